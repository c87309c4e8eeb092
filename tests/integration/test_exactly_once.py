"""Exactly-once send and reply: a DynamoDB record (moto) in front, MultiMail's idempotency_key behind."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from devtools.lambda_context import LocalLambdaContext
from devtools.local_env import create_idempotency_table
from devtools.multimail_standin import AGENT_MAILBOX_ID, Faults, StandIn
from email_actions.email_service import Caller, EmailService
from email_actions.errors import DuplicateInProgressError
from email_actions.idempotency import RECORD_WINDOW_SECONDS, DynamoDBOnceGuard
from email_actions.models import SendEmailRequest
from email_actions.multimail import ApiKeyProvider, Deadline, MultiMailClient
from tests.conftest import TABLE, Invoke, load_event, mail_requests, outbound, reset_function_state, with_body


def create_table() -> Any:
    return create_idempotency_table(TABLE)


def posts(standin: StandIn) -> list[Any]:
    return [r for r in standin.requests if r.method == "POST"]


def test_the_same_send_twice_is_one_email_and_two_matching_answers(
    invoke: Invoke, function_env: StandIn, table: Any
) -> None:
    # GIVEN the agent sends, then (retrying) sends exactly the same again
    first = invoke(load_event("send"))
    second = invoke(load_event("send"))
    # THEN MultiMail saw one POST and holds one email
    assert len(posts(function_env)) == 1
    assert len(outbound(function_env)) == 1
    # AND both answers describe the same email, the second saying it is a repeat, with its status now
    for field in ("email_id", "thread_id", "mailbox_id"):
        assert second.body[field] == first.body[field]
    assert "repeat" not in first.body
    assert second.body["repeat"] is True
    assert second.body["status"] == "already_sent"
    assert second.body["current_status"] == outbound(function_env)[0].status
    assert second.message.startswith("This exact request was already made")


def test_a_reply_repeated_is_one_reply(invoke: Invoke, function_env: StandIn, table: Any) -> None:
    answers = [invoke(load_event("reply")) for _ in range(3)]
    assert len(posts(function_env)) == 1
    assert {a.body["email_id"] for a in answers} == {answers[0].body["email_id"]}


def test_a_lost_answer_then_a_retry_is_still_one_email(invoke: Invoke, function_env: StandIn, table: Any) -> None:
    # GIVEN MultiMail accepts the email but stalls past the function's budget
    function_env.inject_fault(Faults.accept_then_stall(4), path_contains="/send")
    lost = invoke(load_event("send"), timeout_seconds=2.5)
    assert lost.status == 504
    assert "may or may not have queued" in lost.message
    # WHEN the agent repeats the call (the local record was dropped with the error)
    retry = invoke(load_event("send"))
    # THEN the POST went out again with the same idempotency_key, and MultiMail returned the original
    keys = [r.json["idempotency_key"] for r in posts(function_env)]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert len(outbound(function_env)) == 1
    assert retry.status == 200
    assert retry.body["email_id"] == outbound(function_env)[0].id


@pytest.mark.parametrize(
    "change",
    [
        {"sessionId": "another-session"},
        {"body": "A different text for Ana."},
        {"to": '["li@example.org"]'},
    ],
)
def test_another_session_or_other_content_is_a_new_email(
    invoke: Invoke, function_env: StandIn, table: Any, change: dict[str, str]
) -> None:
    invoke(load_event("send"))
    event = load_event("send")
    if "sessionId" in change:
        event["sessionId"] = change["sessionId"]
    else:
        event = with_body(event, **change)
    answer = invoke(event)
    assert "repeat" not in answer.body
    assert len(outbound(function_env)) == 2


def test_recipient_order_and_case_do_not_make_a_new_email(invoke: Invoke, function_env: StandIn, table: Any) -> None:
    invoke(with_body(load_event("send"), to="ana@example.com, li@example.org"))
    again = invoke(with_body(load_event("send"), to='["LI@example.org", "Ana@Example.com"]'))
    assert again.body["repeat"] is True
    assert len(outbound(function_env)) == 1


def test_reads_leave_no_record(invoke: Invoke, function_env: StandIn, table: Any) -> None:
    invoke(load_event("inbox"))
    invoke(load_event("inbox"))
    invoke(load_event("read_email"))
    assert len([r for r in mail_requests(function_env) if r.method == "GET"]) == 3
    assert table.scan(TableName=TABLE)["Count"] == 0


def test_the_record_expires_after_the_window_and_the_table_has_ttl(
    invoke: Invoke, function_env: StandIn, table: Any
) -> None:
    before = time.time()
    invoke(load_event("send"))
    [item] = table.scan(TableName=TABLE)["Items"]
    expiration = int(item["expiration"]["N"])
    assert before + RECORD_WINDOW_SECONDS - 5 <= expiration <= time.time() + RECORD_WINDOW_SECONDS + 5
    assert item["status"]["S"] == "COMPLETED"
    ttl = table.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")


def local_context() -> LambdaContext:
    return cast(LambdaContext, LocalLambdaContext())  # duck-typed like the real one


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def service(standin: StandIn, guard: DynamoDBOnceGuard, session: str = "s-1") -> EmailService:
    keys = ApiKeyProvider("unused", fetch=lambda _secret, _force: standin.agent_key)
    client = MultiMailClient(standin.base_url, keys, Deadline.in_seconds(20))
    return EmailService(client, AGENT_MAILBOX_ID, caller=Caller("AGENT12345", session), guard=guard)


REQUEST = SendEmailRequest.model_validate({"to": "ana@example.com", "subject": "Hi", "body": "Hello Ana"})


def test_after_the_window_the_same_email_is_sent_again(secrets: Any) -> None:
    # GIVEN a one-second window (the deployed one is 24 hours) and a stand-in whose clock we move
    create_table()
    clock = FakeClock()
    with StandIn(clock=clock) as standin:
        guard = DynamoDBOnceGuard(TABLE, window_seconds=1, lambda_context=local_context())
        first = service(standin, guard).send(REQUEST)
        assert service(standin, guard).send(REQUEST)["repeat"] is True
        # WHEN both our window and MultiMail's 24 hours have passed
        time.sleep(2.1)  # expiry is compared in whole seconds
        clock.now += 25 * 3600
        later = service(standin, guard).send(REQUEST)
        # THEN it is a new email
        assert "repeat" not in later
        assert later["email_id"] != first["email_id"]
        assert len([e for e in standin.emails(AGENT_MAILBOX_ID) if e.direction == "outbound"]) == 2


def test_concurrent_duplicates_make_one_email(secrets: Any) -> None:
    # GIVEN five identical sends racing, while MultiMail takes half a second to accept the first
    create_table()
    with StandIn() as standin:
        standin.inject_fault(Faults.delay(0.5), path_contains="/send")
        guard = DynamoDBOnceGuard(TABLE, lambda_context=local_context())
        outcomes: list[object] = []
        lock = threading.Lock()

        def send() -> None:
            try:
                result: object = service(standin, guard).send(REQUEST)
            except DuplicateInProgressError as error:
                result = error
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=send) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        # THEN one POST, one email; the others were told it is being sent right now
        assert len(outcomes) == 5
        assert len([r for r in standin.requests if r.method == "POST"]) == 1
        assert len([e for e in standin.emails(AGENT_MAILBOX_ID) if e.direction == "outbound"]) == 1
        refused = [o for o in outcomes if isinstance(o, DuplicateInProgressError)]
        assert refused
        assert all(error.status_code == 409 for error in refused)
        assert "being sent right now" in refused[0].message
        answered = [o for o in outcomes if isinstance(o, dict)]
        assert len({a["email_id"] for a in answered}) == 1


def test_a_store_outage_fails_closed(invoke: Invoke, function_env: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the configured table does not exist (the store cannot record)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "no-such-table")
    reset_function_state()
    answer = invoke(load_event("send"))
    # THEN nothing is sent, and the model is told to try again
    assert answer.status == 502
    assert "did not send it" in answer.message
    assert posts(function_env) == []
