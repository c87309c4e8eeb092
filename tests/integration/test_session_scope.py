"""The dedupe scope of a send (issue 12, item 4): one Bedrock session, never a scope that unrelated
conversations share. Runs the real handler, the real idempotency guard (DynamoDB in moto) and the
loopback stand-in.

An event without a sessionId gets a scope of its own invocation: a repeat is sent again (the human
approval gate stands behind it) rather than blocked or answered from someone else's record. A
sessionId that Bedrock could not have sent (empty, not text, too long, odd characters) is refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.multimail_standin import StandIn
from tests.conftest import TABLE, Invoke, load_event, outbound


def idempotency_keys(standin: StandIn) -> list[str]:
    return [r.json["idempotency_key"] for r in standin.requests if r.method == "POST"]


_ABSENT = object()  # a key left out of the event


def send_event(**changes: Any) -> dict[str, Any]:
    event = load_event("send")
    for key, value in changes.items():
        if value is _ABSENT:
            event.pop(key, None)
        else:
            event[key] = value
    return event


@pytest.mark.parametrize("missing", [_ABSENT, None], ids=["no sessionId key", "sessionId null"])
def test_sends_without_a_session_never_share_a_scope(
    invoke: Invoke, function_env: StandIn, table: Any, missing: object
) -> None:
    # GIVEN two identical sends that name no session (two callers, or one caller twice)
    first = invoke(send_event(sessionId=missing))
    second = invoke(send_event(sessionId=missing))
    # THEN neither was blocked nor answered from the other's record: two emails, two answers
    assert (first.status, second.status) == (200, 200)
    assert "repeat" not in first.body
    assert "repeat" not in second.body
    assert first.body["email_id"] != second.body["email_id"]
    assert len(outbound(function_env)) == 2
    # AND MultiMail got two different idempotency keys, so it did not merge them either
    keys = idempotency_keys(function_env)
    assert len(keys) == 2
    assert keys[0] != keys[1]


def test_a_sessionless_send_does_not_replay_a_session_s_answer(
    invoke: Invoke, function_env: StandIn, table: Any
) -> None:
    # GIVEN a send in a real session
    in_session = invoke(load_event("send"))
    # WHEN the same email comes without a session
    without = invoke(send_event(sessionId=_ABSENT))
    # THEN it is a new email, not the session's record replayed
    assert "repeat" not in without.body
    assert without.body["email_id"] != in_session.body["email_id"]
    assert len(outbound(function_env)) == 2


def test_within_one_session_a_repeat_is_still_one_email(invoke: Invoke, function_env: StandIn, table: Any) -> None:
    # GIVEN the per-invocation scope applies only without a session: a real session still dedupes
    first = invoke(load_event("send"))
    again = invoke(load_event("send"))
    assert again.body["repeat"] is True
    assert again.body["email_id"] == first.body["email_id"]
    assert len(outbound(function_env)) == 1


@pytest.mark.parametrize(
    "session_id",
    [
        "",
        "x",
        7,
        True,
        ["demo-session-0001"],
        {"id": "demo-session-0001"},
        "s" * 101,
        "s" * 1_000_000,
        "demo session",
        "demo/session",
        "demo-session-0001\n",
        "sess\u200bion",
        "séance-0001",
    ],
    ids=lambda value: repr(value)[:24],
)
def test_a_session_id_bedrock_could_not_have_sent_is_refused(
    invoke: Invoke, function_env: StandIn, table: Any, session_id: object
) -> None:
    # GIVEN a send whose sessionId is empty, not text, over 100 characters, or has other characters
    answer = invoke(send_event(sessionId=session_id))
    # THEN it is refused with a 400 that names sessionId, nothing was sent or recorded,
    # and the answer stays small whatever the sessionId's size
    assert answer.status == 400
    assert answer.body["error"] == "invalid_request"
    assert "sessionId" in answer.message
    assert function_env.requests == []
    assert table.scan(TableName=TABLE)["Count"] == 0
    assert len(str(answer.raw)) < 2_000


@pytest.mark.parametrize("session_id", ["ab", "s" * 100, "converse-0123abcd", "a.b_c:d-e", "UPPER.lower.0-9"])
def test_every_documented_session_id_form_is_accepted(
    invoke: Invoke, function_env: StandIn, table: Any, session_id: str
) -> None:
    # GIVEN sessionIds at the documented limits (2 to 100 of [0-9a-zA-Z._:-])
    answer = invoke(send_event(sessionId=session_id))
    # THEN the send goes through
    assert answer.status == 200, answer.body
    assert len(outbound(function_env)) == 1
