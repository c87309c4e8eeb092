"""Exactly-once repeats report the truth, with the real guard (DynamoDB in moto) and the stand-in,
through lambda_handler: a send whose earlier twin was cancelled or rejected goes out again as a
new email; one that was approved is not sent again and the answer says so; concurrent repeats
still send once.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from devtools.lambda_context import LocalLambdaContext
from devtools.local_env import create_idempotency_table
from devtools.multimail_standin import AGENT_MAILBOX_ID
from email_actions.email_service import Caller, EmailService
from email_actions.errors import DuplicateInProgressError
from email_actions.idempotency import DynamoDBOnceGuard
from email_actions.models import CancelEmailRequest, SendEmailRequest
from email_actions.multimail import ApiKeyProvider, Deadline, MultiMailClient
from tests.conftest import Answer, load_event, with_body, with_params
from tests.hardening.conftest import Harness
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("faults")

TABLE = "email-actions-idempotency"
LIVE = ("pending_scan", "pending_send_approval", "sent")


@pytest.fixture
def guarded(harness: Harness) -> Harness:
    """The harness with the idempotency table, as deployed."""
    create_idempotency_table(TABLE)
    harness.monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    harness.reset()
    return harness


def send_event(marker: str) -> dict[str, Any]:
    return with_body(load_event("send"), subject=f"Report {marker}", body=f"Here is the report {marker}.")


def live_emails(h: Harness, marker: str) -> list[Any]:
    return [e for e in h.created(marker) if e.status in LIVE]


def count_the_send(h: Harness, marker: str, *, should_go_out: bool) -> None:
    """One intended send: more than one live email is a duplicate; none, when it should go out, is
    wrongly blocked (counted where the matrix has that count)."""
    COUNTS.intended_sends += 1
    live = live_emails(h, marker)
    if len(live) > 1:
        COUNTS.duplicates += len(live) - 1
    if should_go_out and not live:
        COUNTS.wrongly_blocked += 1
    assert len(live) <= 1, f"{len(live)} live emails for one intended send"
    if should_go_out:
        assert live, "the send should have gone out, but nothing waits or was sent"


def first_send(h: Harness, marker: str) -> Answer:
    h.fresh()
    first = h.run(send_event(marker)).answer
    assert first.status == 200, first.body
    h.standin.finish_scans(first.body["email_id"])
    return first


@pytest.mark.parametrize("ended", ["cancel", "reject"])
def test_the_same_send_after_a_cancel_or_a_rejection_goes_out_as_a_new_email(guarded: Harness, ended: str) -> None:
    # GIVEN a send that the user then withdrew, or that a person rejected
    marker = uuid.uuid4().hex[:12]
    first = first_send(guarded, marker)
    if ended == "cancel":
        withdrawn = guarded.run(with_params(load_event("cancel"), email_id=first.body["email_id"])).answer
        assert withdrawn.status == 200, withdrawn.body
    else:
        guarded.standin.reject(first.body["email_id"], "not now")
    # WHEN the user asks for the same email again, in the same session
    again = guarded.run(send_event(marker)).answer
    # THEN a new email was queued, and the answer is about it
    assert again.status == 200, again.body
    assert again.body["email_id"] != first.body["email_id"]
    assert again.body["status"] == "pending_scan"
    assert "repeat" not in again.body
    (live,) = live_emails(guarded, marker)
    assert live.id == again.body["email_id"]
    # AND MultiMail saw a different idempotency key for it
    keys = [r.json["idempotency_key"] for r in guarded.standin.requests if r.method == "POST" and "/send" in r.path]
    assert len(set(keys)) == len(keys)
    count_the_send(guarded, marker, should_go_out=True)


def test_the_same_send_after_approval_is_not_sent_again_and_says_it_was_sent(guarded: Harness) -> None:
    # GIVEN a send that a person approved, so MultiMail sent it
    marker = uuid.uuid4().hex[:12]
    first = first_send(guarded, marker)
    guarded.standin.approve(first.body["email_id"])
    # WHEN the same send comes again
    again = guarded.run(send_event(marker)).answer
    # THEN nothing new was sent, and the answer reports the status now: sent
    assert again.status == 200, again.body
    assert again.body["email_id"] == first.body["email_id"]
    assert (again.body["repeat"], again.body["sent_again"]) == (True, False)
    assert again.body["current_status"] == "sent"
    assert "approved it and MultiMail sent it" in again.message
    assert len(guarded.created(marker)) == 1
    count_the_send(guarded, marker, should_go_out=True)


def test_a_repeat_while_it_waits_reports_the_status_now_not_the_stored_one(guarded: Harness) -> None:
    # GIVEN a send whose scan has ended (the stored answer said pending_scan)
    marker = uuid.uuid4().hex[:12]
    first = first_send(guarded, marker)
    assert first.body["status"] == "pending_scan"
    # WHEN it is repeated THEN the answer says it waits for approval now
    again = guarded.run(send_event(marker)).answer
    assert again.body["current_status"] == "pending_send_approval"
    assert "still waits for a person to approve it" in again.message
    count_the_send(guarded, marker, should_go_out=True)


def test_two_resends_after_a_cancel_send_one_new_email(guarded: Harness) -> None:
    # GIVEN a cancelled send
    marker = uuid.uuid4().hex[:12]
    first = first_send(guarded, marker)
    guarded.run(with_params(load_event("cancel"), email_id=first.body["email_id"]))
    # WHEN the same send comes twice more, one after the other
    second = guarded.run(send_event(marker)).answer
    third = guarded.run(send_event(marker)).answer
    # THEN one new email exists, and the third answer is a repeat of the second
    assert third.body["email_id"] == second.body["email_id"] != first.body["email_id"]
    assert third.body["repeat"] is True
    assert len(guarded.created(marker)) == 2
    count_the_send(guarded, marker, should_go_out=True)


def test_concurrent_resends_after_a_cancel_send_one_new_email(guarded: Harness) -> None:
    # GIVEN a cancelled send (the use case with the real guard and adapter: Lambda runs one invocation per
    # process, so concurrent repeats are separate services sharing the table and MultiMail)
    marker = uuid.uuid4().hex[:12]
    request = SendEmailRequest(to=["ana@example.com"], subject=f"Report {marker}", body="Here it is.")
    first = service(guarded).send(request)
    guarded.standin.finish_scans(first["email_id"])
    service(guarded).cancel(CancelEmailRequest(email_id=first["email_id"]))
    # WHEN three identical resends arrive at once
    answers: list[dict[str, Any]] = []
    refused: list[DuplicateInProgressError] = []

    def resend() -> None:
        try:
            answers.append(service(guarded).send(request))
        except DuplicateInProgressError as error:  # the twin is being sent right now: a well-formed 409
            refused.append(error)

    threads = [threading.Thread(target=resend) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # THEN exactly one new email exists, and every answer that is not a refusal names it
    assert len(answers) + len(refused) == 3
    assert len(guarded.created(marker)) == 2
    (live,) = live_emails(guarded, marker)
    assert {answer["email_id"] for answer in answers} == {live.id}
    count_the_send(guarded, marker, should_go_out=True)


def service(h: Harness) -> EmailService:
    keys = ApiKeyProvider("unused", fetch=lambda _secret, _force: h.standin.agent_key)
    client = MultiMailClient(h.standin.base_url, keys, Deadline.in_seconds(20))
    guard = DynamoDBOnceGuard(TABLE, lambda_context=cast(LambdaContext, LocalLambdaContext()))
    return EmailService(client, AGENT_MAILBOX_ID, caller=Caller("AGENT12345", "replay-session"), guard=guard)
