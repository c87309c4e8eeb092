"""`make demo`: a scripted agent session through the real handler, and the human who approves its mail.

The story follows an email through MultiMail's statuses as the answers give them: the agent sends it
(MultiMail accepts it for a content scan: `pending_scan`), the scan ends (`pending_send_approval`: the
mailbox is in gated_send mode), a person approves it through the oversight API with the oversight key,
and MultiMail sends it. Every status printed is read from an answer, never assumed; the waits poll
briefly (POLL_SECONDS) and give up after FOLLOW_SECONDS.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from devtools.events import HANDLER, call_handler, load_event, response_body, said, with_body, with_params
from devtools.local_env import SECRET_NAME, LocalRunError, function_logs_to, local_environment
from devtools.multimail_standin import COLLEAGUE_ADDRESS, COLLEAGUE_MAILBOX_ID, StandIn
from devtools.transcript import Transcript, cut

DEFAULT_DEMO_PORT = 8025
POLL_SECONDS = 0.05
FOLLOW_SECONDS = 5.0
# The statuses an outgoing email passes through on its way out, as MultiMail names them: while it has
# one of them, the story waits (briefly) for the next.
SCANNING = frozenset({"pending_scan"})
AWAITING_APPROVAL = "pending_send_approval"
APPROVED_NOT_YET_SENT = frozenset({AWAITING_APPROVAL, "approved"})
# The statuses only an email the agent sent can have (the spec's list enum, plus scan and delivery).
OUTGOING_STATUSES = frozenset(
    {*SCANNING, AWAITING_APPROVAL, "approved", "scheduled", "sent", "send_failed", "cancelled", "rejected"}
)


@dataclass(frozen=True)
class Step:
    """One turn of the story: who acted, what they asked for, and what came back."""

    number: int
    title: str
    actor: str  # "agent" (through the handler) or "human" (through MultiMail oversight)
    words: str  # what the user said (the event's inputText), or what the human did
    action: str  # "POST /send", or the oversight call
    status: int
    body: dict[str, Any]
    response: dict[str, Any] | None = None  # the raw Bedrock response of an agent step
    event: dict[str, Any] | None = None
    calls: int = 1  # how many times the step asked (a follow step polls)
    waited_on: str | None = None  # the status it saw first, when it asked again

    @property
    def email_status(self) -> str | None:
        """The status of the email an answer is about (a send, a reply, a read, a decision)."""
        email = self.body.get("email")
        found = email.get("status") if isinstance(email, dict) else self.body.get("status")
        return found if isinstance(found, str) else None


class StoryError(LocalRunError):
    """A step did not answer as the story needs; the demo stops there."""


# -- the human's side: MultiMail oversight, with the oversight key ---------------------------------


def oversight(standin: StandIn, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
    """What a person does in MultiMail: an oversight call with the oversight key (never the agent's)."""
    request = urllib.request.Request(
        f"{standin.base_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {standin.oversight_key}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(request, timeout=10) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        error.close()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"error": raw.decode(errors="replace")[:200]}


def human_decides(standin: StandIn, email_id: str, action: str = "approve") -> tuple[int, dict[str, Any]]:
    """POST /v1/oversight/decide {email_id, action}: the person approves or rejects a queued email."""
    status, body = oversight(standin, "POST", "/v1/oversight/decide", {"email_id": email_id, "action": action})
    # The decision's answer names no email ({status, postmark_message_id}); the story notes which one.
    return status, {"email_id": email_id, **body} if isinstance(body, dict) else {"body": body}


def human_queue(standin: StandIn) -> tuple[int, dict[str, Any]]:
    """GET /v1/oversight/pending: what waits for a person, under `emails` (the spec's key)."""
    status, body = oversight(standin, "GET", "/v1/oversight/pending")
    if not isinstance(body, dict):
        return status, {"body": body}
    if "emails" not in body and isinstance(body.get("pending"), list):  # an older stand-in's key
        body = {**body, "emails": body.pop("pending")}
    return status, body


# -- the scripted session --------------------------------------------------------------------------


class Story:
    """Drives the real handler through the session, one fixture-built event per step."""

    def __init__(self, standin: StandIn, transcript: Transcript) -> None:
        self.standin = standin
        self.transcript = transcript
        self.steps: list[Step] = []

    def run(self) -> list[Step]:
        # The fixture asks for 5 emails; the seeded inbox holds 6 and the invoice is the oldest, so
        # the story asks for 10, which shows the whole inbox and the invoice that step 2 opens.
        self.agent("The agent lists the inbox", with_params(load_event("inbox"), limit="10"))
        read = self.agent("The agent reads the invoice email", load_event("read_email"))
        thread_id = str(read.body.get("email", {}).get("thread_id"))
        thread = said(with_params(load_event("thread"), thread_id=thread_id), "Is there more in that conversation?")
        self.agent("The agent reads the whole conversation before replying", thread)
        self.agent(
            "The agent reads the invoice lines Dana attached (CSV: text, under untrusted)", load_event("get_attachment")
        )
        self.agent("The agent replies to it (queued: scan, then approval)", load_event("reply"))
        send = load_event("send")
        colleague_body = "Hi Priya,\n\nConfirming our call on **Thursday at 10:00**. Talk then!\n\nBest regards"
        send = said(with_body(send, to=json.dumps([COLLEAGUE_ADDRESS]), body=colleague_body), _send_words(send))
        sent = self.agent("The agent sends a new email to the colleague (accepted, not sent)", send)
        new_id = str(sent.body.get("email_id"))
        self._expect(sent, bool(sent.body.get("email_id")), "the new email's id")

        scanned = self.follow(
            "MultiMail scans it; the agent checks its status",
            new_id,
            "Has MultiMail finished checking the email to the colleague?",
            waiting=SCANNING,
        )
        self._expect(scanned, scanned.email_status == AWAITING_APPROVAL, f"{new_id} {AWAITING_APPROVAL}")
        pending = self.agent("The agent lists what waits for approval", load_event("pending"))
        self._expect(pending, _ids(pending).count(new_id) == 1, f"{new_id} among the pending emails")

        queue = self.human_step(
            "The HUMAN opens MultiMail's approval queue",
            "a person opens the queue of emails that wait for approval, with the oversight key",
            "GET /v1/oversight/pending",
            human_queue(self.standin),
        )
        self._expect(queue, new_id in _ids(queue), f"{new_id} in the approval queue")
        decided = self.human_step(
            "The HUMAN approves the new email in MultiMail (not the agent)",
            "a person reviews the queued email and approves it, with the oversight key "
            "(the agent's key has no oversight scope: it can never approve its own mail)",
            f"POST /v1/oversight/decide  email_id={new_id}  action=approve",
            human_decides(self.standin, new_id, "approve"),
        )
        self._expect(decided, decided.email_status not in (None, "rejected"), "the email approved")

        delivered = self.follow(
            "MultiMail sends it; the agent checks its status",
            new_id,
            "Was the email to the colleague sent?",
            waiting=APPROVED_NOT_YET_SENT,
        )
        self._expect(delivered, delivered.email_status not in APPROVED_NOT_YET_SENT, f"{new_id} sent")
        arrived = self.agent(
            "The colleague's mailbox has it (listed through the same handler)",
            said(with_params(load_event("inbox"), mailbox_id=COLLEAGUE_MAILBOX_ID), _colleague_words()),
        )
        self._expect(arrived, bool(arrived.body.get("emails")), "the approved email in the colleague's inbox")
        after = self.agent(
            "The agent lists what still waits (one fewer)",
            said(load_event("pending"), "And what is still waiting for approval now?"),
        )
        self._expect(after, new_id not in _ids(after), f"{new_id} gone from the pending list")
        return self.steps

    # the kinds of step ----------------------------------------------------------------------------

    def agent(self, title: str, event: dict[str, Any]) -> Step:
        """The agent calls one action: the event goes through the real handler."""
        return self._agent_step(title, event, waiting=frozenset())

    def follow(self, title: str, email_id: str, words: str, *, waiting: Collection[str]) -> Step:
        """The agent reads an email (readEmail) until its status is no longer one of `waiting`: asked
        again every POLL_SECONDS, for at most FOLLOW_SECONDS; the last answer is the step's."""
        event = said(with_params(load_event("read_email"), email_id=email_id), words)
        return self._agent_step(title, event, waiting=waiting)

    def human_step(self, title: str, words: str, action: str, answer: tuple[int, dict[str, Any]]) -> Step:
        """The person's call in MultiMail (made by the caller), recorded and shown."""
        self._announce(title, "human", words, action)
        step = self._record(Step(len(self.steps) + 1, title, "human", words, action, *answer))
        self._expect(step, step.status == 200, "HTTP 200")
        return step

    def _agent_step(self, title: str, event: dict[str, Any], *, waiting: Collection[str]) -> Step:
        words, action = str(event.get("inputText", "")), _call_summary(event)
        self._announce(title, "agent", words, action)
        deadline, calls, first = time.monotonic() + FOLLOW_SECONDS, 0, None
        while True:
            response = call_handler(event)
            calls += 1
            status, body = response_body(response)
            step = Step(len(self.steps) + 1, title, "agent", words, action, status, body, response, event, calls, first)
            if status != 200 or step.email_status not in waiting or time.monotonic() >= deadline:
                break
            first = first or step.email_status
            time.sleep(POLL_SECONDS)
        self._record(step)
        self._expect(step, status == 200, "HTTP 200")
        return step

    # bookkeeping and printing ---------------------------------------------------------------------

    def _expect(self, step: Step, condition: bool, what: str) -> None:
        if not condition:
            problem = step.body.get("message") or step.body.get("error") or json.dumps(step.body)[:300]
            raise StoryError(f"step {step.number} ({step.title}) did not give {what}: HTTP {step.status}: {problem}")

    def _announce(self, title: str, actor: str, words: str, action: str) -> None:
        """Who acts and what they ask for, printed before the call (so --verbose logs fall under it)."""
        t, s = self.transcript, self.transcript.style
        t.line()
        t.line(s.bold(f"{len(self.steps) + 1:>2}. {title}"))
        if actor == "agent":
            t.field("user said", f"“{words}”", lines=2)
            t.field("agent calls", action, lines=2, paint=s.agent)
        else:
            t.field("HUMAN", words, lines=2, paint=s.human)
            t.field("human calls", action, lines=1, paint=s.human)

    def _record(self, step: Step) -> Step:
        self.steps.append(step)
        t, s = self.transcript, self.transcript.style
        t.field("answer", f"{s.status(step.status)}  {_headline(step)}", lines=1)
        if step.waited_on:
            t.field("", f"(asked {step.calls} times, {POLL_SECONDS:g} s apart: it was {step.waited_on} first)", lines=1)
        if step.body.get("message"):
            t.field("", str(step.body["message"]), lines=5)
        for text in _details(step):
            t.detail(text)
        return step


def _call_summary(event: Mapping[str, Any]) -> str:
    parts = [f"{event.get('httpMethod', '?')} {event.get('apiPath', '?')}"]
    for item in event.get("parameters") or []:
        parts.append(f"{item['name']}={cut(item['value'], 40)}")
    media = (event.get("requestBody") or {}).get("content", {}).get("application/json", {})
    for item in media.get("properties") or []:
        parts.append(f"{item['name']}={cut(item['value'], 40)}")
    return "  ".join(parts)


def _email_lines(emails: Sequence[Mapping[str, Any]], *, to: bool = False) -> list[str]:
    """One row per email: id, sender (or recipients, for outgoing mail) and subject."""
    lines = []
    for email in emails:
        who = ("to " + ", ".join(email.get("to") or [])) if to else str(email.get("from") or "")
        subject = (email.get("untrusted") or {}).get("subject", email.get("subject", ""))
        lines.append(f"{email.get('id', '?'):<24}  {cut(who, 30):<30}  {cut(str(subject), 200)}")
    return lines


def _send_words(event: Mapping[str, Any]) -> str:
    return str(event.get("inputText", "")).replace("ana@example.com", COLLEAGUE_ADDRESS)


def _colleague_words() -> str:
    return f"Did the colleague's mailbox ({COLLEAGUE_MAILBOX_ID}) receive the email?"


def _ids(step: Step) -> list[str]:
    return [str(email.get("id")) for email in step.body.get("emails", [])]


def _headline(step: Step) -> str:
    """The answer's key fields, in one line."""
    body = step.body
    if "error" in body:
        return f"error {body['error']}"
    if step.actor == "human" and "emails" in body:
        return f"{len(body['emails'])} email(s) wait for a person's decision"
    if step.actor == "human":
        return f"email {body.get('id', body.get('email_id', '?'))} is now {body.get('status', '?')}"
    if "emails" in body:
        return f"{body.get('count', 0)} email(s) in {body.get('mailbox_id', '?')}"
    if "email" in body and _outgoing(body["email"]):
        return f"status {body['email'].get('status', '?')}  email_id {body['email'].get('id', '?')}"
    if "email" in body:
        email = body["email"]
        return f"email {email.get('id', '?')} from {email.get('untrusted', {}).get('from', '?')}"
    if "email_id" in body:
        return f"status {body.get('status', '?')}  email_id {body['email_id']}"
    return ""


def _outgoing(email: Mapping[str, Any]) -> bool:
    """An email the agent wrote: MultiMail's full email names no direction, its status tells."""
    return email.get("direction") == "outbound" or email.get("status") in OUTGOING_STATUSES


def _details(step: Step) -> list[str]:
    """A few lines of what came back: the emails listed, or the email read."""
    body = step.body
    if isinstance(body.get("emails"), list):
        outbound = step.actor == "human" or (step.event is not None and step.event.get("apiPath") == "/pending")
        return _email_lines(body["emails"][:8], to=outbound)
    if isinstance(body.get("email"), dict) and not _outgoing(body["email"]):
        untrusted = body["email"].get("untrusted") or {}
        return [
            f"subject  {untrusted.get('subject', '')}",
            f"body     {cut(untrusted.get('body', ''), 140)}",
            f"         ({body.get('body_characters', '?')} characters; third-party text, marked untrusted)",
        ]
    return []


# -- the command -----------------------------------------------------------------------------------


def progress(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


def demo(out: TextIO, *, port: int = DEFAULT_DEMO_PORT, verbose: bool = False) -> list[Step]:
    """The whole story against a fresh stand-in on `port`; raises LocalRunError when it can't finish."""
    started = time.perf_counter()
    progress(f"starting the MultiMail stand-in on 127.0.0.1:{port} and Secrets Manager in moto")
    with local_environment(port, verbose=verbose) as standin, function_logs_to(sys.stderr):
        progress(f"loading the handler ({HANDLER})")

        transcript = Transcript(out)
        s = transcript.style
        transcript.line(s.bold("Local demo: a Bedrock agent's email actions, end to end, on this machine"))
        transcript.field("handler", f"the real {HANDLER}, fed Bedrock events built from events/")
        transcript.field(
            "MultiMail", f"the local stand-in at {standin.base_url} (a development stand-in, loopback only)"
        )
        transcript.field("secret", f"{SECRET_NAME} in Secrets Manager, emulated by moto (key never shown)")
        transcript.field(
            "an email",
            "is sent → pending_scan (MultiMail checks it) → pending_send_approval → approved by a person → "
            "sent; each status below is read from MultiMail's answers",
            lines=2,
        )
        logs = (
            "on stderr: the function's INFO lines (an audit line per action), the stand-in's requests"
            if verbose
            else "on stderr, WARNING and above; `make demo VERBOSE=1` adds each action's audit line"
        )
        transcript.field("logs", logs)
        steps = Story(standin, transcript).run()
        transcript.line()
        transcript.line(
            s.bold(f"Done: {len(steps)} steps in {time.perf_counter() - started:.1f} s.")
            + " The stand-in and moto are stopped; no email left this machine."
        )
        transcript.line("Next: `make invoke EVENT=events/<name>.json` runs one event (fixtures in events/).")
    return steps
