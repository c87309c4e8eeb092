"""`make demo` and `make invoke`, in-process: the same story and the same single-event run, checked."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import time

import pytest

from devtools import demo as demo_module
from devtools.demo import APPROVED_NOT_YET_SENT, SCANNING, Story, StoryError
from devtools.events import load_event
from devtools.local_env import local_environment
from devtools.local_run import main
from devtools.multimail_standin import (
    AGENT_ADDRESS,
    AGENT_MAILBOX_ID,
    COLLEAGUE_ADDRESS,
    COLLEAGUE_MAILBOX_ID,
    DEFAULT_AGENT_KEY,
    DEFAULT_OVERSIGHT_KEY,
    INVOICE_EMAIL_ID,
    INVOICE_FOLLOWUP_EMAIL_ID,
    Faults,
    StandIn,
)
from devtools.transcript import Transcript
from tests.conftest import check_bedrock_response

NEW_EMAIL_SUBJECT = "Thursday's call at 10:00"  # events/send.json


def test_the_story_follows_the_new_email_from_send_through_scan_and_approval_to_delivery() -> None:
    # GIVEN the local environment (stand-in on a free port, the key in moto) and an empty transcript
    out = io.StringIO()
    with local_environment(0) as standin:
        # WHEN the scripted session runs through the real handler
        steps = Story(standin, Transcript(out)).run()
        colleague_mail = standin.emails(COLLEAGUE_MAILBOX_ID)
        sent = standin.email(steps[5].body["email_id"])

    # THEN every step answered 200, in the order of the story, the human's steps among them
    assert [(s.actor, s.action.split("  ")[0], s.status) for s in steps] == [
        ("agent", "GET /inbox", 200),
        ("agent", "GET /emails/{email_id}", 200),
        ("agent", "GET /threads/{thread_id}", 200),
        ("agent", "GET /emails/{email_id}/attachment", 200),
        ("agent", "POST /reply", 200),
        ("agent", "POST /send", 200),
        ("agent", "GET /emails/{email_id}", 200),
        ("agent", "GET /pending", 200),
        ("human", "GET /v1/oversight/pending", 200),
        ("human", "POST /v1/oversight/decide", 200),
        ("agent", "GET /emails/{email_id}", 200),
        ("agent", "GET /inbox", 200),
        ("agent", "GET /pending", 200),
    ]
    (
        inbox,
        read,
        thread,
        attachment,
        reply,
        send,
        scanned,
        pending,
        queue,
        approval,
        delivered,
        colleague_inbox,
        pending_after,
    ) = steps
    # AND every agent answer has the Bedrock response shape
    for step in steps:
        if step.actor == "agent":
            assert check_bedrock_response(step.event, step.response).body == step.body
    # AND the agent saw the invoice in the inbox, read it, and its reply is queued in the invoice's thread
    assert INVOICE_EMAIL_ID in [e["id"] for e in inbox.body["emails"]]
    assert read.body["email"]["id"] == INVOICE_EMAIL_ID
    assert [e["id"] for e in thread.body["emails"]] == [INVOICE_EMAIL_ID, INVOICE_FOLLOWUP_EMAIL_ID]
    assert attachment.body["untrusted"]["text"].startswith("line,description,seats")
    assert reply.email_status in SCANNING | {"pending_send_approval"}
    assert reply.body["in_reply_to"] == INVOICE_EMAIL_ID
    # AND the new email went to the colleague, accepted but not sent: scanned first, or already waiting
    new_id = send.body["email_id"]
    assert send.email_status in SCANNING | {"pending_send_approval"}
    assert send.body["awaiting_human_approval"] is True
    assert sent.to == [COLLEAGUE_ADDRESS]
    assert COLLEAGUE_ADDRESS in send.words  # the user's words name the recipient that was used
    # AND after the scan it waits for a person: the status the agent read, not one the story assumed
    assert scanned.body["email"]["id"] == new_id
    assert scanned.email_status == "pending_send_approval"
    assert scanned.waited_on in (None, *SCANNING)
    # AND pending lists it, next to the reply; the person's queue holds it too
    assert sorted(e["id"] for e in pending.body["emails"]) == sorted([new_id, reply.body["email_id"]])
    assert new_id in [e["id"] for e in queue.body["emails"]]
    # AND the human (not the agent) approved it, and MultiMail sent it
    assert approval.actor == "human"
    assert approval.email_status in ("approved", "approved_and_sent", "sent")
    assert delivered.email_status == sent.status
    assert delivered.email_status not in APPROVED_NOT_YET_SENT
    # AND it was delivered into the colleague's mailbox, as the handler shows
    assert [(e.subject, e.sender, e.direction) for e in colleague_mail] == [
        (NEW_EMAIL_SUBJECT, AGENT_ADDRESS, "inbound")
    ]
    assert colleague_inbox.body["mailbox_id"] == COLLEAGUE_MAILBOX_ID
    assert [e["untrusted"]["subject"] for e in colleague_inbox.body["emails"]] == [NEW_EMAIL_SUBJECT]
    # AND pending now holds one fewer: only the reply
    assert pending_after.body["count"] == pending.body["count"] - 1
    assert [e["id"] for e in pending_after.body["emails"]] == [reply.body["email_id"]]

    # AND the transcript shows each step: the user's words, the action, the status and the answer
    transcript = out.getvalue()
    for step in steps:
        assert f"{step.number:>2}. {step.title}" in transcript
        assert step.action.split("  ")[0] in transcript
    for fixture in ("inbox", "read_email", "reply", "pending"):
        assert load_event(fixture)["inputText"] in transcript
    assert "HUMAN" in transcript
    assert "not the agent" in transcript
    # AND it shows the new email's statuses in the order they came: send, scan, approval, sent
    shown = [f"status {send.email_status}  email_id {new_id}", f"status pending_send_approval  email_id {new_id}"]
    shown += [f"email {new_id} is now {approval.email_status}", f"status {delivered.email_status}  email_id {new_id}"]
    positions = [transcript.find(text) for text in shown]
    assert -1 not in positions, shown
    assert positions == sorted(positions)


def test_make_demo_prints_a_readable_transcript_exits_0_and_stops_what_it_started(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the caller's environment
    before = dict(os.environ)
    # WHEN `make demo` runs (its command line, on a free port)
    code = main(["demo", "--port", "0"])
    # THEN it exits 0 with a transcript on stdout and progress on stderr
    captured = capsys.readouterr()
    assert code == 0
    assert "Done: 13 steps" in captured.out
    assert "==> starting the MultiMail stand-in" in captured.err
    # AND the transcript fits 100 columns, has no colour (not a terminal) and never shows a key
    lines = captured.out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "\033[" not in captured.out
    for key in (DEFAULT_AGENT_KEY, DEFAULT_OVERSIGHT_KEY):
        assert key not in captured.out + captured.err
    # AND the stand-in it started is stopped, and the environment is as it was
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)", captured.out).group(1))  # type: ignore[union-attr]
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert dict(os.environ) == before


@pytest.mark.parametrize("how", ["--port", "SANDBOX_PORT"])
def test_demo_on_a_busy_port_says_which_variable_to_set_and_exits_2(
    how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a port that something else listens on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # WHEN the demo is asked to use it
        if how == "SANDBOX_PORT":
            monkeypatch.setenv("SANDBOX_PORT", str(port))
            code = main(["demo"])
        else:
            code = main(["demo", "--port", str(port)])
    # THEN it exits 2 and says what to do, without starting the story
    captured = capsys.readouterr()
    assert code == 2
    assert f"port {port} busy: set SANDBOX_PORT=<free port> and run make demo again" in captured.err
    assert "make demo SANDBOX_PORT=" in captured.err
    assert "1. " not in captured.out


def test_a_failing_step_stops_the_story_with_the_step_and_the_answer() -> None:
    # GIVEN a stand-in whose next send fails with a real 503
    with local_environment(0) as standin:
        standin.inject_fault(Faults.status(503, body='{"error": "maintenance"}'), path_contains="/send")
        # WHEN the story reaches the send
        with pytest.raises(StoryError) as failure:
            Story(standin, Transcript(io.StringIO())).run()
    # THEN it stops there, naming the step, the status and the function's advice
    assert failure.value.exit_code == 1
    assert str(failure.value).startswith("step 6 (The agent sends a new email")
    assert "HTTP 50" in str(failure.value)
    assert "listPendingEmails" in str(failure.value)


def _documents(output: str) -> tuple[dict[str, object], dict[str, object]]:
    raw, _, parsed = output.partition("\nresponseBody body, parsed")
    return json.loads(raw), json.loads(parsed.split(":\n", 1)[1])


def test_invoke_runs_one_fixture_against_the_standin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no MULTIMAIL_API_URL in the environment (the default, local mode)
    monkeypatch.delenv("MULTIMAIL_API_URL", raising=False)
    # WHEN `make invoke EVENT=events/send.json` runs
    code = main(["invoke", "events/send.json"])
    # THEN it prints the Bedrock response, pretty, and its body parsed
    captured = capsys.readouterr()
    assert code == 0
    response, body = _documents(captured.out)
    answer = check_bedrock_response(load_event("send"), response)
    assert answer.status == 200
    assert body == answer.body
    assert body["status"] == "pending_scan"  # accepted; the scan and a person come next
    assert body["mailbox_id"] == AGENT_MAILBOX_ID
    assert "local: MultiMail stand-in at" in captured.err
    assert DEFAULT_AGENT_KEY not in captured.out + captured.err
    # AND it left no local configuration behind
    assert "MULTIMAIL_API_URL" not in os.environ


def test_invoke_in_real_mode_uses_the_callers_environment(
    function_env: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN MULTIMAIL_API_URL, MULTIMAIL_SECRET_ID and AWS credentials in the environment (here: a
    # stand-in and moto that the caller owns, in place of MultiMail and Secrets Manager)
    # WHEN `make invoke` runs an event
    code = main(["invoke", "events/inbox.json"])
    # THEN the event went to the caller's MultiMail with the caller's secret: no stand-in of its own
    captured = capsys.readouterr()
    assert code == 0
    assert [(r.method, r.path) for r in function_env.requests] == [
        ("GET", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails"),
        ("GET", "/v1/mailboxes"),  # the oversight mode, for the inbox's words
    ]
    assert f"real: {function_env.base_url}" in captured.err
    assert "no stand-in, no moto" in captured.err
    _, body = _documents(captured.out)
    assert body["count"] == 6  # events/inbox.json asks for 10; six are seeded


def test_invoke_in_real_mode_without_a_secret_id_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN real mode without MULTIMAIL_SECRET_ID
    monkeypatch.setenv("MULTIMAIL_API_URL", "https://api.multimail.dev")
    monkeypatch.delenv("MULTIMAIL_SECRET_ID", raising=False)
    # WHEN invoke runs
    code = main(["invoke", "events/send.json"])
    # THEN nothing is called, and the message names the variable and the way back to local mode
    assert code == 1
    error = capsys.readouterr().err
    assert "needs MULTIMAIL_SECRET_ID" in error
    assert "unset MULTIMAIL_API_URL" in error


@pytest.mark.parametrize(
    ("event", "expected"),
    [("", "EVENT is required: make invoke EVENT=events/send.json"), ("events/nope.json", "no event file")],
)
def test_invoke_without_a_usable_event_lists_the_fixtures(
    event: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN invoke gets no event, or a file that does not exist
    code = main(["invoke", event])
    # THEN it exits 1, says what was wrong and lists the fixtures to use
    error = capsys.readouterr().err
    assert code == 1
    assert expected in error
    assert "send_comma_separated" in error


def test_following_an_email_asks_again_while_it_is_scanned_and_shows_what_it_saw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a handler whose email is still being scanned on the first two reads (as MultiMail's answers
    # are right after a send), then waits for approval
    statuses = iter(["pending_scan", "pending_scan", "pending_send_approval"])
    events: list[dict[str, object]] = []

    def handler(event: dict[str, object]) -> dict[str, object]:
        events.append(event)
        body = {"email": {"id": "em_new", "direction": "outbound", "status": next(statuses)}}
        return {"response": {"httpStatusCode": 200, "responseBody": {"application/json": {"body": json.dumps(body)}}}}

    monkeypatch.setattr(demo_module, "call_handler", handler)
    monkeypatch.setattr(demo_module, "POLL_SECONDS", 0.0)
    out = io.StringIO()
    story = Story(StandIn(), Transcript(out))
    # WHEN the story follows the email through the scan
    step = story.follow("MultiMail scans it", "em_new", "Scanned yet?", waiting=SCANNING)
    # THEN it read the email three times, and the step is the last answer, with what it saw first
    assert len(events) == 3
    assert step.calls == 3
    assert (step.waited_on, step.email_status) == ("pending_scan", "pending_send_approval")
    assert "status pending_send_approval  email_id em_new" in out.getvalue()
    assert "it was pending_scan first" in out.getvalue()


def test_following_an_email_gives_up_after_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an email whose scan never ends, and a clock that runs fast
    body = json.dumps({"email": {"id": "em_new", "direction": "outbound", "status": "pending_scan"}})
    answer = {"response": {"httpStatusCode": 200, "responseBody": {"application/json": {"body": body}}}}
    monkeypatch.setattr(demo_module, "call_handler", lambda event: answer)
    ticks = iter(range(0, 1000, 2))
    monkeypatch.setattr(time, "monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(demo_module, "POLL_SECONDS", 0.0)
    # WHEN the story follows it
    step = Story(StandIn(), Transcript(io.StringIO())).follow("scan", "em_new", "?", waiting=SCANNING)
    # THEN it stops asking once FOLLOW_SECONDS have passed, with the status it last saw
    assert step.calls == int(demo_module.FOLLOW_SECONDS // 2) + 1
    assert step.email_status == "pending_scan"
