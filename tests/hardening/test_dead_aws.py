"""A Secrets Manager or DynamoDB that accepts connections and never answers (issue 20, item 3).

moto cannot hang, so these tests point the function's AWS endpoints at a loopback server that
accepts every connection and never sends a byte. Each call must still answer within its Lambda
budget, with an answer that says what happened, and no email may be sent twice: a DynamoDB that
stops answering after MultiMail took the email must not make the function send it again.

Timing: the answer must come before the budget ends (the harness counts a later one as a
deadline overrun). Without bounded clients botocore waits 60 s per attempt and retries, so an
overrun is tens of seconds, far from anything a loaded machine adds.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from devtools.local_env import create_idempotency_table
from devtools.multimail_standin import Fault
from email_actions import aws_clients
from tests.conftest import load_event, with_body
from tests.hardening.conftest import Harness
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("dead_aws")

BUDGET_SECONDS = 4.0  # a short Lambda budget: the 1 s reserve leaves the call 3 s
TABLE = "email-actions-idempotency"


def send_event(marker: str) -> dict[str, Any]:
    return with_body(load_event("send"), subject=f"Dead AWS {marker}", body=f"Body {marker}.")


@pytest.mark.parametrize("event_name", ["send", "inbox"])
def test_a_secrets_manager_that_never_answers_gives_a_clear_error_in_time(
    harness: Harness, unanswering_server: str, event_name: str
) -> None:
    # GIVEN Secrets Manager accepts connections and never answers
    harness.monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", unanswering_server)
    harness.reset()
    COUNTS.faults += 1
    # WHEN the agent calls on a short budget
    run = harness.run(load_event(event_name), timeout_seconds=BUDGET_SECONDS)
    # THEN the answer arrived within the budget (the harness checks it), says the key could not be read
    # in time and that nothing was sent, and MultiMail was never called
    assert run.answer.status == 500
    assert run.answer.body["error"] == "api_key_unavailable"
    assert "did not answer in the time" in run.answer.message
    assert "not sent" in run.answer.message
    assert harness.standin.requests == []


def test_a_dynamodb_that_never_answers_sends_nothing_and_says_so_in_time(
    harness: Harness, unanswering_server: str
) -> None:
    # GIVEN the exactly-once table's DynamoDB accepts connections and never answers
    create_idempotency_table(TABLE)
    harness.monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    harness.monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", unanswering_server)
    harness.reset()
    COUNTS.faults += 1
    # WHEN the agent sends on a short budget
    run = harness.run(send_event("before"), timeout_seconds=BUDGET_SECONDS)
    # THEN the answer came in time, says the request could not be recorded and so was not sent
    assert run.answer.status == 502
    assert "could not record the request, so it did not send it" in run.answer.message
    # AND MultiMail never saw it
    assert harness.created("before") == []
    harness.check_one_send("before", run.answer)


def test_a_dynamodb_that_stops_answering_after_the_post_does_not_cause_a_resend(
    harness: Harness, unanswering_server: str
) -> None:
    # GIVEN a working table, whose DynamoDB stops answering the moment MultiMail receives the send
    create_idempotency_table(TABLE)
    harness.monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    harness.reset()
    original = harness.standin.take_fault

    def dynamodb_dies_on_the_post(method: str, path: str) -> Fault | None:
        if method == "POST" and path.endswith("/send"):
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = unanswering_server  # undone by monkeypatch below
            aws_clients.forget_clients("dynamodb")  # the next DynamoDB request makes a new client
        return original(method, path)

    harness.monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
    harness.monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    harness.monkeypatch.setattr(harness.standin, "take_fault", dynamodb_dies_on_the_post)
    COUNTS.faults += 1
    # WHEN the agent sends, and then (told it went out) the same send is asked for again
    first = harness.run(send_event("after"), timeout_seconds=BUDGET_SECONDS)
    second = harness.run(send_event("after"), timeout_seconds=BUDGET_SECONDS)
    # THEN the first answer tells the truth: MultiMail accepted the email
    assert first.answer.status == 200, first.answer.body
    harness.check_one_send("after", first.answer)
    # AND the repeat sent nothing new, whatever it could learn from the dead table
    assert len(harness.created("after")) == 1
    assert second.answer.status != 200 or second.answer.body["email_id"] == first.answer.body["email_id"]
