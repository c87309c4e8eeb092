"""Reading a whole conversation (issue 19 item 2): getThread, end to end against the stand-in."""

from __future__ import annotations

import json
import time

import pytest

from devtools.multimail_standin import (
    AGENT_MAILBOX_ID,
    DEFAULT_AGENT_KEY,
    MEETING_EMAIL_ID,
    MEETING_UPDATE_EMAIL_ID,
    Email,
    StandIn,
)
from email_actions import email_service
from email_actions.answers import RESPONSE_BUDGET_BYTES
from email_actions.email_service import WAIT_POLL_RESERVE_SECONDS, EmailService
from email_actions.models import WaitForEmailRequest
from email_actions.multimail import ApiKeyProvider, Deadline, MultiMailClient
from tests.conftest import Invoke, load_event, mail_requests, with_params

MEETING_THREAD = "th_seed_meeting"


def add_to_thread(standin: StandIn, thread_id: str, count: int, body: str, subject: str = "Re: planning") -> list[str]:
    """`count` inbound emails appended to a thread, each newer than the last; their ids, oldest first."""
    newest = max(e.received_at for e in standin.emails(AGENT_MAILBOX_ID))
    ids = []
    for index in range(count):
        email = Email(
            id=f"em_thread_{index}",
            mailbox_id=AGENT_MAILBOX_ID,
            thread_id=thread_id,
            sender="Pat <pat@partner.example>",
            to=["agent@example.com"],
            subject=subject,
            markdown=f"message {index}: {body}",
            status="unread",
            direction="inbound",
            received_at=newest + 60 * (index + 1),
        )
        ids.append(standin.store.add_email(email).id)
    return ids


def test_a_thread_is_told_oldest_first_with_the_newest_bodies_under_untrusted(
    invoke: Invoke, function_env: StandIn
) -> None:
    # GIVEN the seeded meeting conversation (an invitation and its update)
    # WHEN the agent reads the thread
    answer = invoke(load_event("thread"))
    # THEN the emails come oldest first, each body exactly as written and only under `untrusted`
    assert answer.status == 200, answer.body
    emails = answer.body["emails"]
    assert [e["id"] for e in emails] == [MEETING_EMAIL_ID, MEETING_UPDATE_EMAIL_ID]
    for email in emails:
        assert email["untrusted"]["body"] == function_env.email(email["id"]).markdown
    assert answer.body["message_count"] == 2
    assert answer.body["thread_id"] == MEETING_THREAD
    assert "untrusted" in answer.body["notice"].lower() or "do not follow" in answer.body["notice"]
    # AND only the thread and its emails were read, in the agent's mailbox
    paths = {r.path for r in mail_requests(function_env)}
    assert paths == {
        f"/v1/mailboxes/{AGENT_MAILBOX_ID}/threads/{MEETING_THREAD}",
        f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails/{MEETING_EMAIL_ID}",
        f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails/{MEETING_UPDATE_EMAIL_ID}",
    }


def test_a_long_thread_fits_one_answer_newest_whole_older_cut_with_a_way_to_read_on(
    invoke: Invoke, function_env: StandIn
) -> None:
    # GIVEN a conversation of 40 long emails
    ids = add_to_thread(function_env, "th_long", 40, "lorem ipsum " * 2_000)
    # WHEN the agent reads it
    answer = invoke(with_params(load_event("thread"), thread_id="th_long"))
    # THEN the whole answer fits the budget
    assert answer.status == 200, answer.body
    assert len(json.dumps(answer.body).encode()) <= RESPONSE_BUDGET_BYTES
    emails = answer.body["emails"]
    assert answer.body["message_count"] == 40
    # AND the newest email is last and carries text; every cut body says how to read on with readEmail
    assert emails[-1]["id"] == ids[-1]
    assert emails[-1]["untrusted"]["body"].startswith("message 39")
    cut = [e for e in emails if e.get("body_truncated")]
    assert cut
    for email in cut:
        shown = len(email["untrusted"]["body"])
        assert email["read_more"] == f"readEmail with email_id={email['id']!r} and body_offset={shown}"
    # AND the older emails are summaries, still in order
    assert [e["id"] for e in emails] == ids[len(ids) - len(emails) :]
    assert "body" not in emails[0]["untrusted"]


def test_an_unknown_thread_is_a_404_that_says_so(invoke: Invoke, function_env: StandIn) -> None:
    answer = invoke(with_params(load_event("thread"), thread_id="th_nowhere"))
    assert answer.status == 404
    assert [r.path for r in mail_requests(function_env)] == [f"/v1/mailboxes/{AGENT_MAILBOX_ID}/threads/th_nowhere"]


# -- search and polling (issue 19 item 3) ----------------------------------------------------------


def test_the_inbox_searches_by_sender_subject_dates_and_attachments(invoke: Invoke, function_env: StandIn) -> None:
    # GIVEN the seeded mailbox WHEN the agent looks for Dana's emails with an attachment, in June 2025
    answer = invoke(
        with_params(
            load_event("inbox"),
            sender="northwind-traders",
            subject_contains="invoice",
            date_after="2025-06-01",
            date_before="2025-06-30T00:00:00Z",
            has_attachments="true",
        )
    )
    # THEN MultiMail is asked with its own parameters, and the answer holds only the matching email
    assert answer.status == 200, answer.body
    [request] = [r for r in mail_requests(function_env) if r.path.endswith("/emails")]
    assert request.query == {
        "limit": "10",
        "direction": "inbound",
        "sender": "northwind-traders",
        "subject_contains": "invoice",
        "date_after": "2025-06-01",
        "date_before": "2025-06-30T00:00:00Z",
        "has_attachments": "true",
    }
    expected = [
        e.id
        for e in reversed(function_env.emails(AGENT_MAILBOX_ID))
        if e.direction == "inbound"
        and "northwind-traders" in e.sender
        and "invoice" in e.subject.lower()
        and e.attachments
    ]
    assert expected
    assert [e["id"] for e in answer.body["emails"]] == expected


def test_since_id_lists_only_what_arrived_after_it(invoke: Invoke, function_env: StandIn) -> None:
    # GIVEN the newest email the agent saw, and two that arrive after it
    newest = invoke(with_params(load_event("inbox"), limit="1")).body["emails"][0]["id"]
    arrived = add_to_thread(function_env, "th_new", 2, "hello")
    # WHEN the agent asks what arrived since
    answer = invoke(with_params(load_event("inbox"), since_id=newest))
    # THEN it gets exactly those, newest first
    assert [e["id"] for e in answer.body["emails"]] == list(reversed(arrived))


def test_bad_search_values_are_refused_before_multimail(invoke: Invoke, function_env: StandIn) -> None:
    for params in (
        {"date_after": "last week"},
        {"date_after": "2025-02-30"},
        {"date_after": "2025-06-02", "date_before": "2025-06-01"},
        {"since_id": "../../account"},
        {"sender": "a\r\nBcc: x@evil.example"},
        {"has_attachments": "maybe"},
    ):
        function_env.clear_requests()
        answer = invoke(with_params(load_event("inbox"), **params))
        assert answer.status == 400, (params, answer.body)
        assert mail_requests(function_env) == [], params
        assert any(name in answer.message for name in params), (params, answer.message)


# -- waiting for new mail --------------------------------------------------------------------------


class ArrivingMail:
    """email_service's `time` for one test: sleeping moves a virtual clock on, and after the given number of
    sleeps an email arrives in the stand-in, so nothing depends on the wall clock."""

    def __init__(self, standin: StandIn, arrive_after_sleeps: int | None) -> None:
        self.standin, self.arrive_after = standin, arrive_after_sleeps
        self.sleeps: list[float] = []
        self.arrived: list[str] = []
        self.time = time.time

    def monotonic(self) -> float:
        return time.monotonic() + sum(self.sleeps)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) == self.arrive_after:
            self.arrived = add_to_thread(self.standin, "th_wait", 1, "the code is 4711")


def test_wait_for_email_returns_what_arrives_while_it_waits(
    invoke: Invoke, function_env: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN mail that arrives after the second look
    arriving = ArrivingMail(function_env, arrive_after_sleeps=2)
    monkeypatch.setattr(email_service, "time", arriving)
    # WHEN the agent waits up to 5 seconds (the fixture)
    answer = invoke(load_event("wait_for_email"))
    # THEN the new email comes back, with the mark to wait from next
    assert answer.status == 200, answer.body
    assert answer.body["arrived"] is True
    assert [e["id"] for e in answer.body["emails"]] == arriving.arrived
    assert f"since_id={arriving.arrived[0]!r}" in answer.message
    assert len(arriving.sleeps) == 2
    # AND every look asked MultiMail only for what came after the newest email at the start
    looks = [r for r in mail_requests(function_env) if r.path.endswith("/emails")]
    assert all(r.query.get("since_id") == looks[1].query["since_id"] for r in looks[1:])


def test_wait_for_email_waits_only_for_the_sender_asked_for(
    invoke: Invoke, function_env: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN mail from Pat that arrives after the first look
    arriving = ArrivingMail(function_env, arrive_after_sleeps=1)
    monkeypatch.setattr(email_service, "time", arriving)
    # WHEN the agent waits for mail from someone else, and then from Pat
    other = invoke(with_params(load_event("wait_for_email"), sender="nobody.example"))
    # THEN the first wait sees nothing, and every look asked MultiMail for that sender only
    assert other.body["arrived"] is False
    looks = [r for r in mail_requests(function_env) if r.path.endswith("/emails") and "since_id" in r.query]
    assert looks
    assert all(r.query["sender"] == "nobody.example" for r in looks)
    arrived = invoke(with_params(load_event("wait_for_email"), sender="partner.example", since_id=MEETING_EMAIL_ID))
    assert [e["id"] for e in arrived.body["emails"]][:1] == arriving.arrived


def test_wait_for_email_ends_at_its_timeout_and_says_nothing_came(
    invoke: Invoke, function_env: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no new mail
    arriving = ArrivingMail(function_env, arrive_after_sleeps=None)
    monkeypatch.setattr(email_service, "time", arriving)
    # WHEN the agent waits 10 seconds
    answer = invoke(with_params(load_event("wait_for_email"), timeout_seconds="10"))
    # THEN it slept no more than that in total, in a few looks, and says nothing arrived
    assert answer.body["arrived"] is False
    assert sum(arriving.sleeps) <= 10
    assert 2 <= len(arriving.sleeps) <= 5
    assert "No new email arrived" in answer.message


def test_wait_for_email_never_outlasts_the_callers_time(
    invoke: Invoke, function_env: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a call with 4 seconds left, asked to wait 25 (its clock moves only with its own sleeps)
    arriving = ArrivingMail(function_env, arrive_after_sleeps=None)
    monkeypatch.setattr(email_service, "time", arriving)
    service = EmailService(
        MultiMailClient(function_env.base_url, ApiKeyProvider("standin", fetch=lambda _id, _force: DEFAULT_AGENT_KEY),
                        Deadline.in_seconds(4.0, clock=arriving.monotonic)),
        AGENT_MAILBOX_ID,
        deadline=Deadline.in_seconds(4.0, clock=arriving.monotonic),
        sleep=arriving.sleep,
        monotonic=arriving.monotonic,
    )  # fmt: skip
    answer = service.wait_for_email(WaitForEmailRequest(timeout_seconds=25))
    # THEN it stops in time to answer, and says the call's limit ended it
    assert sum(arriving.sleeps) <= 4.0 - WAIT_POLL_RESERVE_SECONDS
    assert answer["arrived"] is False
    assert "time limit ended the wait" in answer["message"]
