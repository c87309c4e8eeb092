"""Run the email action group on this machine: no AWS account, no Docker, no MultiMail key.

    python -m devtools.local_run demo [--port 8025] [--verbose]         # make demo
    python -m devtools.local_run invoke events/send.json [--verbose]    # make invoke EVENT=...

Both call the real handler, `email_actions.app.lambda_handler`, in this process (put `functions/`
on PYTHONPATH, as the make targets do). Locally, MultiMail is the loopback stand-in
(`devtools.multimail_standin`) and Secrets Manager is moto, in memory, holding the stand-in's agent
key; nothing leaves 127.0.0.1. `invoke` switches to "real mode" when MULTIMAIL_API_URL is set in the
environment: then it uses that environment as it is (real MultiMail, the real secret through the
caller's AWS credentials) and starts neither the stand-in nor moto.

`demo` plays a scripted agent session built from the `events/` fixtures (inbox, read, reply, send,
pending), lets the human approve the new email through the stand-in's oversight API, shows it
delivered, and prints a readable transcript. No API key is ever printed.

The event helpers (`load_event`, `with_params`, `with_body`) and `reset_function_state` live here so
that the demo and the tests build events the same way; `tests/conftest.py` imports them.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import re
import socket
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from devtools.lambda_context import LocalLambdaContext
from devtools.multimail_standin import (
    AGENT_MAILBOX_ID,
    COLLEAGUE_ADDRESS,
    COLLEAGUE_MAILBOX_ID,
    StandIn,
)

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
HANDLER = "email_actions.app.lambda_handler"
LOCAL_SECRET_NAME = "local/multimail-api-key"  # noqa: S105 -- the secret's name, not its value
LOCAL_REGION = "us-east-1"
LOCAL_IDEMPOTENCY_TABLE = "local-email-actions-idempotency"
DEFAULT_DEMO_PORT = 8025
WIDTH = 100  # the transcript fits a 100-column terminal
LABEL_WIDTH = 12

# -- events: the fixtures, and copies with a field changed ------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    """The fixture `events/<name>.json`."""
    return read_event(EVENTS / f"{name}.json")


def read_event(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def with_params(event: dict[str, Any], **values: str) -> dict[str, Any]:
    """A copy of `event` with parameters set (added or replaced), as Bedrock would send them."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    params = [p for p in copy.get("parameters", []) if p["name"] not in values]
    params += [{"name": k, "type": "string", "value": v} for k, v in values.items()]
    copy["parameters"] = params
    return copy


def with_body(event: dict[str, Any], **values: str) -> dict[str, Any]:
    """A copy of `event` with request-body properties set (added or replaced)."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    media = copy.setdefault("requestBody", {"content": {"application/json": {"properties": []}}})
    props = media["content"]["application/json"]["properties"]
    props[:] = [p for p in props if p["name"] not in values]
    props += [{"name": k, "type": "string", "value": v} for k, v in values.items()]
    return copy


def said(event: dict[str, Any], words: str) -> dict[str, Any]:
    """A copy of `event` in which the user said `words` (the event's inputText)."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    copy["inputText"] = words
    return copy


def fixture_names() -> list[str]:
    return sorted(path.stem for path in EVENTS.glob("*.json"))


def reset_function_state() -> None:
    """Forget everything a warm Lambda would keep: settings, cached secret, key provider, DynamoDB client."""
    from aws_lambda_powertools.utilities import parameters

    from email_actions import app as app_module
    from email_actions import idempotency
    from email_actions.settings import get_settings

    get_settings.cache_clear()
    app_module._keys.cache_clear()
    app_module._default_mailbox.cache_clear()
    idempotency._persistence.cache_clear()
    parameters.clear_caches()


# -- the local environment: stand-in + moto + the function's variables ------------------------------


class LocalRunError(Exception):
    """A problem the user can fix; the message says how. The command prints it and exits `exit_code`."""

    exit_code = 1


class PortBusyError(LocalRunError):
    exit_code = 2

    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(
            f"port {port} busy: set SANDBOX_PORT=<free port> and run make demo again "
            f"(for example: make demo SANDBOX_PORT={free_port()})"
        )


def free_port() -> int:
    """A loopback port that is free right now (for the hint; the demo itself binds with port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _callers_setting(name: str) -> bool:
    return name.startswith("AWS_") or name in (
        "MULTIMAIL_API_URL",
        "MULTIMAIL_SECRET_ID",
        "MULTIMAIL_MAILBOX_ID",
        "IDEMPOTENCY_TABLE",
    )


def create_idempotency_table(name: str = LOCAL_IDEMPOTENCY_TABLE, dynamodb: Any = None) -> Any:
    """The stack's exactly-once table (template.yaml's IdempotencyTable), through `dynamodb` (a boto3
    client; by default one for the local Region, which moto serves when it is active)."""
    if dynamodb is None:
        import boto3

        dynamodb = boto3.client("dynamodb", region_name=LOCAL_REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return dynamodb


@contextmanager
def _environment(values: Mapping[str, str], *, drop: Callable[[str], bool]) -> Iterator[None]:
    """Set `values`, remove the variables `drop` selects, and put everything back afterwards."""
    saved = dict(os.environ)
    try:
        for name in [name for name in os.environ if drop(name)]:
            del os.environ[name]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _log_level(verbose: bool) -> str:
    return "INFO" if verbose else "WARNING"


@contextmanager
def local_environment(port: int = 0, *, verbose: bool = False) -> Iterator[StandIn]:
    """The deployed configuration on loopback: MultiMail is the stand-in, Secrets Manager and DynamoDB are moto.

    The caller's AWS_* and MULTIMAIL_* variables are set aside (no profile, no endpoint override, no real
    credentials can be used), and restored on exit, with the stand-in stopped and moto ended.
    """
    standin = StandIn(port=port, verbose=verbose)
    try:
        standin.start()
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortBusyError(port) from None
        raise
    try:
        variables = {
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "local-testing",
            "AWS_SECRET_ACCESS_KEY": "local-testing",
            "MULTIMAIL_API_URL": standin.base_url,
            "MULTIMAIL_SECRET_ID": LOCAL_SECRET_NAME,
            "MULTIMAIL_MAILBOX_ID": AGENT_MAILBOX_ID,
            "IDEMPOTENCY_TABLE": LOCAL_IDEMPOTENCY_TABLE,
            "POWERTOOLS_SERVICE_NAME": "email-actions",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": _log_level(verbose),
        }
        with _environment(variables, drop=_callers_setting):
            import boto3
            from moto import mock_aws

            with mock_aws():
                secrets = boto3.client("secretsmanager", region_name=LOCAL_REGION)
                secrets.create_secret(Name=LOCAL_SECRET_NAME, SecretString=json.dumps({"api_key": standin.agent_key}))
                create_idempotency_table()
                reset_function_state()
                try:
                    yield standin
                finally:
                    reset_function_state()
    finally:
        standin.stop()


@contextmanager
def function_logs_to(stream: TextIO) -> Iterator[None]:
    """Send the function's log lines (Powertools writes them to stdout) to `stream`, e.g. stderr."""
    from email_actions.observability import logger

    handler = logger.registered_handler
    previous = handler.setStream(stream) if isinstance(handler, logging.StreamHandler) else None
    try:
        yield
    finally:
        if previous is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(previous)


def call_handler(event: dict[str, Any]) -> dict[str, Any]:
    """One invocation of the real handler, with a Lambda-like context (30 s budget)."""
    from email_actions.app import lambda_handler

    response: dict[str, Any] = lambda_handler(event, LocalLambdaContext())
    return response


def response_body(response: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, parsed body) of a Bedrock response."""
    inner = response["response"]
    body = json.loads(inner["responseBody"]["application/json"]["body"])
    return int(inner["httpStatusCode"]), body if isinstance(body, dict) else {"body": body}


# -- the human's side: MultiMail oversight, with the oversight key ---------------------------------


def human_decides(standin: StandIn, email_id: str, action: str = "approve") -> tuple[int, dict[str, Any]]:
    """What a person does in MultiMail: POST /v1/oversight/decide with the oversight key (never the agent's)."""
    request = urllib.request.Request(
        f"{standin.base_url}/v1/oversight/decide",
        data=json.dumps({"email_id": email_id, "action": action}).encode(),
        method="POST",
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
        body = json.loads(raw)
    except ValueError:
        body = {"error": raw.decode(errors="replace")[:200]}
    return status, body if isinstance(body, dict) else {"body": body}


# -- output ----------------------------------------------------------------------------------------


class Style:
    """ANSI colour when the output is a terminal (and NO_COLOR is unset); plain text otherwise."""

    def __init__(self, out: TextIO) -> None:
        isatty = getattr(out, "isatty", None)
        self.enabled = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._paint("1", text)

    def dim(self, text: str) -> str:
        return self._paint("2", text)

    def status(self, code: int) -> str:
        return self._paint("32" if code < 300 else "33" if code < 500 else "31", str(code))

    def agent(self, text: str) -> str:
        return self._paint("36", text)

    def human(self, text: str) -> str:
        return self._paint("1;35", text)


def cut(text: str, limit: int) -> str:
    """One line of at most `limit` characters: whitespace collapsed, the rest replaced by an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


class Transcript:
    """Writes the session as a reader wants it: who asked, what was called, what came back."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.style = Style(out)

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def field(
        self, label: str, text: str, *, lines: int = 4, indent: int = 4, paint: Callable[[str], str] | None = None
    ) -> None:
        """`label  text`, wrapped under itself within WIDTH, at most `lines` lines; `paint` colours the label."""
        room = WIDTH - indent - LABEL_WIDTH
        wrapped = textwrap.wrap(re.sub(r"\s*\n\s*", " ", text), room) or [""]
        if len(wrapped) > lines:
            wrapped = [*wrapped[: lines - 1], cut(" ".join(wrapped[lines - 1 :]), room)]
        pad = " " * indent
        shown = (paint or str)(label) + " " * max(LABEL_WIDTH - len(label), 1)
        self.line(f"{pad}{shown}{wrapped[0]}")
        for rest in wrapped[1:]:
            self.line(f"{pad}{'':<{LABEL_WIDTH}}{rest}")

    def detail(self, text: str, *, indent: int = 6) -> None:
        """One line under the answer, cut to WIDTH (its spacing kept: rows line up)."""
        room = WIDTH - indent
        line = text if len(text) <= room else text[: room - 1] + "…"
        self.line(" " * indent + line)


# -- the scripted session --------------------------------------------------------------------------


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


class StoryError(LocalRunError):
    """A step did not answer as the story needs; the demo stops there."""


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
        subject = cut((email.get("untrusted") or {}).get("subject", ""), 200)
        lines.append(f"{email.get('id', '?'):<24}  {cut(who, 30):<30}  {subject}")
    return lines


class Story:
    """Drives the real handler through the session, one fixture-built event per step."""

    def __init__(self, standin: StandIn, transcript: Transcript) -> None:
        self.standin = standin
        self.transcript = transcript
        self.steps: list[Step] = []

    # the steps ------------------------------------------------------------------------------------

    def run(self) -> list[Step]:
        # The fixture asks for 5 emails; the seeded inbox holds 6 and the invoice is the oldest, so
        # the story asks for 10, which shows the whole inbox and the invoice that step 2 opens.
        self.agent("The agent lists the inbox", with_params(load_event("inbox"), limit="10"))
        self.agent("The agent reads the invoice email", load_event("read_email"))
        self.agent("The agent replies to it (queued for approval)", load_event("reply"))
        send = load_event("send")
        colleague_body = "Hi Priya,\n\nConfirming our call on **Thursday at 10:00**. Talk then!\n\nBest regards"
        send = said(with_body(send, to=json.dumps([COLLEAGUE_ADDRESS]), body=colleague_body), _send_words(send))
        sent = self.agent("The agent sends a new email to the colleague (queued for approval)", send)
        new_email_id = str(sent.body.get("email_id"))
        self._expect(sent, sent.body.get("status") == "pending_send_approval", "the email to be pending approval")
        pending = self.agent("The agent lists what waits for approval", load_event("pending"))
        self._expect(pending, _ids(pending).count(new_email_id) == 1, f"{new_email_id} among the pending emails")
        self.human_approves(new_email_id)
        delivered = self.agent(
            "The colleague's mailbox has it (listed through the same handler)",
            said(with_params(load_event("inbox"), mailbox_id=COLLEAGUE_MAILBOX_ID), _colleague_words()),
        )
        self._expect(delivered, bool(delivered.body.get("emails")), "the approved email in the colleague's inbox")
        after = self.agent(
            "The agent lists what still waits (one fewer)",
            said(load_event("pending"), "And what is still waiting for approval now?"),
        )
        self._expect(after, new_email_id not in _ids(after), f"{new_email_id} gone from the pending list")
        return self.steps

    def agent(self, title: str, event: dict[str, Any]) -> Step:
        """The agent calls one action: the event goes through the real handler."""
        words, action = str(event.get("inputText", "")), _call_summary(event)
        self._announce(title, "agent", words, action)
        response = call_handler(event)
        status, body = response_body(response)
        step = self._record(title, "agent", words, action, status, body, response=response, event=event)
        self._expect(step, status == 200, "HTTP 200")
        return step

    def human_approves(self, email_id: str) -> Step:
        """The person, in MultiMail, approves a queued email: the oversight API, with the oversight key."""
        title = "The HUMAN approves the new email in MultiMail (not the agent)"
        words = (
            "a person reviews the queued email in MultiMail and approves it, with the oversight key "
            "(the agent's key has no oversight scope: it can never approve its own mail)"
        )
        action = f"POST /v1/oversight/decide  email_id={email_id}  action=approve"
        self._announce(title, "human", words, action)
        status, body = human_decides(self.standin, email_id, "approve")
        step = self._record(title, "human", words, action, status, body)
        self._expect(step, status == 200 and body.get("status") == "sent", "the email approved and sent")
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

    def _record(
        self,
        title: str,
        actor: str,
        words: str,
        action: str,
        status: int,
        body: dict[str, Any],
        **raw: dict[str, Any],
    ) -> Step:
        step = Step(len(self.steps) + 1, title, actor, words, action, status, body, **raw)
        self.steps.append(step)
        t, s = self.transcript, self.transcript.style
        t.field("answer", f"{s.status(status)}  {_headline(step)}", lines=1)
        if body.get("message"):
            t.field("", str(body["message"]), lines=5)
        for text in _details(step):
            t.detail(text)
        return step


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
    if step.actor == "human":
        return f"email {body.get('id', '?')} is now {body.get('status', '?')}: MultiMail delivers it"
    if "emails" in body:
        return f"{body.get('count', 0)} email(s) in {body.get('mailbox_id', '?')}"
    if "email" in body:
        email = body["email"]
        return f"email {email.get('id', '?')} from {email.get('from', '?')}"
    if "email_id" in body:
        return f"status {body.get('status', '?')}  email_id {body['email_id']}"
    return ""


def _details(step: Step) -> list[str]:
    """A few lines of what came back: the emails listed, or the email read."""
    body = step.body
    if isinstance(body.get("emails"), list):
        outbound = step.event is not None and step.event.get("apiPath") == "/pending"
        return _email_lines(body["emails"][:8], to=outbound)
    if isinstance(body.get("email"), dict):
        untrusted = body["email"].get("untrusted") or {}
        return [
            f"subject  {untrusted.get('subject', '')}",
            f"body     {cut(untrusted.get('body', ''), 140)}",
            f"         ({body.get('body_characters', '?')} characters; third-party text, marked untrusted)",
        ]
    return []


# -- the commands ----------------------------------------------------------------------------------


def _progress(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


def demo(out: TextIO, *, port: int = DEFAULT_DEMO_PORT, verbose: bool = False) -> list[Step]:
    """The whole story against a fresh stand-in on `port`; raises LocalRunError when it can't finish."""
    started = time.perf_counter()
    _progress(f"starting the MultiMail stand-in on 127.0.0.1:{port} and Secrets Manager in moto")
    with local_environment(port, verbose=verbose) as standin, function_logs_to(sys.stderr):
        _progress(f"loading the handler ({HANDLER})")

        transcript = Transcript(out)
        s = transcript.style
        transcript.line(s.bold("Local demo: a Bedrock agent's email actions, end to end, on this machine"))
        transcript.field("handler", f"the real {HANDLER}, fed Bedrock events built from events/")
        transcript.field(
            "MultiMail", f"the local stand-in at {standin.base_url} (a development stand-in, loopback only)"
        )
        transcript.field("secret", f"{LOCAL_SECRET_NAME} in Secrets Manager, emulated by moto (key never shown)")
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


def invoke(out: TextIO, event_path: str, *, verbose: bool = False) -> dict[str, Any]:
    """Run one event through the handler and print the Bedrock response (real mode if MULTIMAIL_API_URL is set)."""
    path = _event_path(event_path)
    try:
        event = read_event(path)
    except ValueError as error:
        raise LocalRunError(f"{path} is not valid JSON ({error}); the fixtures in events/ show the shape") from None
    if os.environ.get("MULTIMAIL_API_URL"):
        response = _invoke_real(path, event, verbose=verbose)
    else:
        _progress(f"running {_shown(path)} through {HANDLER}: stand-in on a free port, secret in moto")
        with local_environment(0, verbose=verbose), function_logs_to(sys.stderr):
            response = call_handler(event)
    status, body = response_body(response)
    print(json.dumps(response, indent=2, ensure_ascii=False), file=out)
    print(f"\nresponseBody body, parsed (HTTP {status}):", file=out)
    print(json.dumps(body, indent=2, ensure_ascii=False), file=out, flush=True)
    return response


def _invoke_real(path: Path, event: dict[str, Any], *, verbose: bool) -> dict[str, Any]:
    secret_id = os.environ.get("MULTIMAIL_SECRET_ID", "").strip()
    if not secret_id:
        raise LocalRunError(
            "real mode (MULTIMAIL_API_URL is set) needs MULTIMAIL_SECRET_ID: the name or ARN of the secret that "
            'holds {"api_key": "mm_live_..."}. Or unset MULTIMAIL_API_URL to use the local stand-in.'
        )
    import boto3

    session = boto3.session.Session()
    if not session.region_name:
        raise LocalRunError("real mode: set AWS_REGION (or AWS_DEFAULT_REGION) to the Region of the secret")
    if session.get_credentials() is None:
        raise LocalRunError(
            "real mode: no AWS credentials found; set AWS_PROFILE or run `aws sso login` / `aws configure`"
        )
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "email-actions")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", _log_level(verbose))
    mailbox = os.environ.get("MULTIMAIL_MAILBOX_ID") or "(none: the event must name one)"
    _progress(
        f"real mode: running {_shown(path)} against {os.environ['MULTIMAIL_API_URL']}, mailbox {mailbox}, "
        f"key from secret {secret_id} in {session.region_name} (no stand-in, no moto)"
    )
    reset_function_state()
    with function_logs_to(sys.stderr):
        return call_handler(event)


def _event_path(value: str) -> Path:
    if not value.strip():
        raise LocalRunError(f"EVENT is required: make invoke EVENT=events/send.json. {_fixture_hint()}")
    path = Path(value)
    for candidate in (path, ROOT / path, EVENTS / path, EVENTS / f"{value}.json"):
        if candidate.is_file():
            return candidate
    raise LocalRunError(f"no event file {value!r}: make invoke EVENT=events/send.json, for example. {_fixture_hint()}")


def _fixture_hint() -> str:
    return "The fixtures are events/<name>.json with <name> one of: " + ", ".join(fixture_names()) + "."


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _port(value: str) -> int:
    if not re.fullmatch(r"\d{1,5}", value.strip()) or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"SANDBOX_PORT must be a port number (0-65535), not {value!r}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.local_run",
        description="Run the email action group locally against the MultiMail stand-in and moto.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_demo = commands.add_parser("demo", help="the scripted agent session, with a transcript")
    run_demo.add_argument("--port", type=_port, default=None, help=f"stand-in port (default $SANDBOX_PORT or {8025})")
    run_demo.add_argument("--verbose", action="store_true", help="show the function's INFO logs and the HTTP lines")
    run_one = commands.add_parser("invoke", help="one event through the handler; prints the Bedrock response")
    run_one.add_argument("event", help="an event file, e.g. events/send.json")
    run_one.add_argument("--verbose", action="store_true", help="show the function's INFO logs")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        if args.command == "demo":
            port = args.port if args.port is not None else _port(os.environ.get("SANDBOX_PORT") or "8025")
            demo(out, port=port, verbose=args.verbose)
        else:
            invoke(out, args.event, verbose=args.verbose)
    except argparse.ArgumentTypeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LocalRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
