"""The stand-in's account, usage, daily warm-up limit and scheduled emails, as the spec (and, where the spec
is silent, MultiMail's MCP server) describe them; and no limit the spec does not give."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.multimail_standin import AGENT_MAILBOX_ID, MEETING_EMAIL_ID, StandIn
from devtools.multimail_standin.store import iso_utc
from tests.standin.test_standin import FakeClock, call, outbound, reply_to, send


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standin(clock: FakeClock) -> Iterator[StandIn]:
    with StandIn(clock=clock, scan_seconds=1) as running:
        yield running


def an_hour_ahead(clock: FakeClock) -> str:
    return iso_utc(clock.now + 3600)


def test_account_reports_the_quota_what_this_month_sent_and_disabled_sending(standin: StandIn) -> None:
    # GIVEN two sends this month, and sending disabled by MultiMail
    send(standin)
    send(standin, subject="second")
    standin.set_sending_disabled(True, "bounce rate")
    # WHEN the agent reads its account
    account = call(standin, "GET", "/v1/account").json
    # THEN the spec's AccountInfo says so
    assert account["emails_sent_this_month"] == 2
    assert account["monthly_email_quota"] >= 200
    assert (account["sending_disabled"], account["sending_disabled_reason"]) == (True, "bounce rate")


def test_usage_counts_a_period_and_breaks_it_down_by_day(standin: StandIn, clock: FakeClock) -> None:
    # GIVEN one send now and one a day later
    start_ms = int(clock.now * 1000)
    send(standin)
    clock.advance(86_400)
    send(standin, subject="next day")
    # WHEN the agent asks for the second day only, and for the daily breakdown
    day_two = call(standin, "GET", f"/v1/usage?from={start_ms + 3_600_000}&to={int(clock.now * 1000)}").json
    daily = call(standin, "GET", f"/v1/usage?from={start_ms}&breakdown=daily").json
    # THEN the period holds one send, and each day holds one
    assert day_two["emails_sent"] == 1
    assert [(d["event_type"], d["count"]) for d in daily["data"] if d["event_type"] == "email_sent"] == [
        ("email_sent", 1),
        ("email_sent", 1),
    ]
    assert call(standin, "GET", "/v1/usage?breakdown=weekly").status == 400


def test_a_daily_limit_refuses_the_next_send_with_the_warmup_numbers(standin: StandIn) -> None:
    # GIVEN a daily warm-up limit of two sends, both used
    standin.set_daily_limit(2, warmup_stage="week_1")
    send(standin, idempotency_key="k-1")
    reply_to(standin, MEETING_EMAIL_ID)
    # WHEN the agent sends a third, and repeats the first
    refused = send(standin, subject="third")
    replayed = send(standin, idempotency_key="k-1")
    # THEN the third is 429 with MultiMail's warm-up fields, and the repeat is still the original
    assert refused.status == 429
    assert refused.json == {
        "error": "Daily sending limit reached for this mailbox (warm-up)",
        "warmup_stage": "week_1",
        "daily_sent": 2,
        "daily_limit": 2,
        "hint": refused.json["hint"],
    }
    assert (replayed.status, replayed.json["status"]) == (200, "already_sent")
    assert len(outbound(standin)) == 2


def test_the_monthly_quota_refuses_with_a_quota_error(standin: StandIn) -> None:
    standin.store.account.monthly_email_quota = 1
    send(standin)
    refused = send(standin, subject="over quota")
    assert refused.status == 429
    assert "quota" in refused.json["error"]


def test_gate_first_approves_then_holds_until_the_time(standin: StandIn, clock: FakeClock) -> None:
    # GIVEN a send scheduled an hour ahead from a gated_send mailbox (default gate_first)
    email_id = send(standin, send_at=an_hour_ahead(clock)).json["id"]
    clock.advance(2)
    # WHEN the scan ends, a person approves it, and the hour passes
    waiting = standin.email(email_id).status
    standin.approve(email_id)
    held = standin.email(email_id).status
    clock.advance(3600)
    # THEN it waited for approval, was held as scheduled, and went out at its time
    assert (waiting, held, standin.email(email_id).status) == ("pending_send_approval", "scheduled", "sent")


def test_schedule_first_holds_then_asks_for_approval_at_the_time(standin: StandIn, clock: FakeClock) -> None:
    # GIVEN a send that asks to be scheduled first
    email_id = send(standin, send_at=an_hour_ahead(clock), gate_timing="schedule_first").json["id"]
    clock.advance(2)
    held = standin.email(email_id).status
    clock.advance(3600)
    # THEN it is scheduled after the scan, and waits for a person when its time comes
    assert (held, standin.email(email_id).status) == ("scheduled", "pending_send_approval")


def test_an_autonomous_mailbox_holds_a_scheduled_email_until_its_time(standin: StandIn, clock: FakeClock) -> None:
    standin.set_oversight_mode(AGENT_MAILBOX_ID, "autonomous")
    email_id = send(standin, send_at=an_hour_ahead(clock)).json["id"]
    clock.advance(2)
    listed = call(standin, "GET", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails?status=scheduled").json["emails"]
    assert [e["id"] for e in listed] == [email_id]
    clock.advance(3600)
    assert standin.email(email_id).status == "sent"


def test_a_scheduled_email_can_be_cancelled_before_its_time(standin: StandIn, clock: FakeClock) -> None:
    email_id = send(standin, send_at=an_hour_ahead(clock), gate_timing="schedule_first").json["id"]
    clock.advance(2)
    cancelled = call(standin, "POST", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails/{email_id}/cancel")
    clock.advance(3600)
    assert cancelled.json == {"id": email_id, "status": "cancelled"}
    assert standin.email(email_id).status == "cancelled"


@pytest.mark.parametrize("send_at", ["2025-07-01T10:00:00", "2025-07-01T10:00:00+00:00", "soon", 12])
def test_a_send_at_not_in_the_specs_form_is_400(standin: StandIn, send_at: object) -> None:
    assert send(standin, send_at=send_at).status == 400


def test_no_cap_on_cc_bcc_or_the_idempotency_key_that_the_spec_does_not_give(standin: StandIn) -> None:
    # GIVEN a send with 60 cc, 60 bcc and a 1,000-character idempotency key, and a reply with 60 bcc
    many = [f"p{n}@example.com" for n in range(60)]
    sent = send(standin, cc=many, bcc=many, idempotency_key="k" * 1000)
    replied = reply_to(standin, MEETING_EMAIL_ID, bcc=many)
    # THEN both are accepted; only `to` keeps the spec's 50
    assert (sent.status, replied.status) == (202, 202)
    assert outbound(standin)[-1].bcc == many
    assert send(standin, to=many).status == 400
