"""Upstream faults, each one real, against the loopback stand-in (or a loopback socket that fails
before HTTP). For every fault: a valid answer within the Lambda's remaining time, GETs retried
only while the budget allows, and never more than one email for one intended send.

Budgets are small (`timeout_seconds=2` leaves the adapter 1 s after its 1 s reserve) so that the
real timeouts stay quick.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from devtools.local_env import create_idempotency_table
from devtools.multimail_standin import AGENT_MAILBOX_ID, DEFAULT_AGENT_KEY, Fault, Faults
from tests.conftest import load_event, with_body
from tests.hardening.conftest import Harness, Run, hardening_settings
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("faults")

BUDGET = 2.0  # seconds of Lambda time per invocation: 1 s for MultiMail after the 1 s reserve
HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"


def send_event(marker: str) -> dict[str, Any]:
    return with_body(load_event("send"), subject=f"Hardening {marker}", body=f"Body of {marker}")


def reply_event(marker: str) -> dict[str, Any]:
    return with_body(load_event("reply"), body=f"Reply {marker}")


def new_marker() -> str:
    return uuid.uuid4().hex[:12]


def gets(h: Harness) -> int:
    """The action's own reads: the mailbox list (read for the oversight mode, beside the action) aside."""
    return sum(1 for r in h.standin.requests if r.method == "GET" and r.path != "/v1/mailboxes")


def posts(h: Harness) -> int:
    return sum(1 for r in h.standin.requests if r.method == "POST")


def ended_in_time(run: Run, budget: float = BUDGET) -> None:
    """Answered within the budget, as Lambda's timeout requires. The function stops waiting one second
    before it (its reserve), so a loaded machine that is slow to answer still has that second."""
    assert run.seconds < budget, f"took {run.seconds:.2f} s of {budget} s"


# -- before HTTP: refused and timed-out connections ----------------------------------------------


def test_connection_refused_on_a_read_is_reported_within_budget(harness: Harness, closed_port: str) -> None:
    # GIVEN MultiMail's address points at a loopback port where nothing listens
    harness.point_at(closed_port)
    COUNTS.faults += 1
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=BUDGET)
    # THEN it hears that MultiMail could not be reached, in time
    assert run.answer.status == 502
    assert run.answer.body["error"] == "multimail_unavailable"
    assert "could not be reached" in run.answer.message
    ended_in_time(run)


@pytest.mark.parametrize("kind", ["send", "reply"])
def test_connection_refused_on_a_send_says_it_was_not_sent(harness: Harness, closed_port: str, kind: str) -> None:
    # GIVEN nothing listens at MultiMail's address
    harness.point_at(closed_port)
    COUNTS.faults += 1
    marker = new_marker()
    # WHEN the agent sends or replies
    run = harness.run(send_event(marker) if kind == "send" else reply_event(marker), timeout_seconds=BUDGET)
    # THEN the answer says plainly that the email was not sent (no connection, no request)
    assert run.answer.status == 502
    assert "The email was not sent." in run.answer.message
    assert "Do NOT send it again" not in run.answer.message
    harness.check_one_send(marker, run.answer)
    ended_in_time(run)


@pytest.mark.parametrize("event_name", ["inbox", "send"])
def test_a_connect_timeout_ends_within_the_remaining_time(
    harness: Harness, silent_listener: str, event_name: str
) -> None:
    # GIVEN MultiMail's address is a loopback listener whose accept queue is full: connects hang
    harness.point_at(silent_listener)
    COUNTS.faults += 1
    marker = new_marker()
    event = send_event(marker) if event_name == "send" else load_event(event_name)
    # WHEN the agent calls with 2 s of Lambda time left
    run = harness.run(event, timeout_seconds=BUDGET)
    # THEN the connect waited (it was a timeout, not a refusal) but the answer came before the deadline
    assert run.seconds > 0.5
    ended_in_time(run)
    assert run.answer.status == 502
    assert "could not be reached" in run.answer.message
    if event_name == "send":  # a connection that never opened cannot have sent anything
        assert "The email was not sent." in run.answer.message
        harness.check_one_send(marker, run.answer)


# -- slow answers ---------------------------------------------------------------------------------


def test_a_read_timeout_on_a_read_is_reported_as_safe_to_retry(harness: Harness) -> None:
    # GIVEN MultiMail takes longer to answer than the function has left
    harness.inject(Faults.delay(BUDGET + 2), path_contains="/emails")
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=BUDGET)
    # THEN it gets a timeout answer in time, which says nothing changed
    ended_in_time(run)
    assert run.answer.status == 504
    assert run.answer.body["error"] == "multimail_timeout"
    assert "Nothing was changed" in run.answer.message


def test_a_short_delay_within_budget_is_not_a_failure(harness: Harness) -> None:
    harness.inject(Faults.delay(0.3), path_contains="/emails")
    run = harness.run(load_event("inbox"), timeout_seconds=BUDGET)
    assert run.answer.status == 200
    assert gets(harness) == 1


@pytest.mark.parametrize("kind", ["send", "reply"])
def test_a_send_that_times_out_after_it_was_accepted_is_not_repeated(harness: Harness, kind: str) -> None:
    # GIVEN MultiMail creates the email, then stalls past the function's deadline before answering
    harness.inject(Faults.accept_then_stall(BUDGET + 2), path_contains="/send" if kind == "send" else "/reply")
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker) if kind == "send" else reply_event(marker), timeout_seconds=BUDGET)
    # THEN the POST went out once, the answer came in time and tells the model not to send again
    ended_in_time(run)
    assert posts(harness) == 1
    assert run.answer.status == 504
    assert "Do NOT send it again" in run.answer.message
    assert "listPendingEmails" in run.answer.message
    # AND exactly one email exists for this send
    assert len(harness.check_one_send(marker, run.answer)) == 1


def test_a_send_whose_request_is_processed_after_the_deadline_still_makes_one_email(harness: Harness) -> None:
    # GIVEN MultiMail holds the request past the function's deadline and only then processes it
    harness.inject(Faults.delay(BUDGET + 0.2), path_contains="/send")
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker), timeout_seconds=BUDGET)
    # THEN the function answered in time with "may exist, do not resend"
    ended_in_time(run)
    assert run.answer.status == 504
    assert "Do NOT send it again" in run.answer.message
    # AND once MultiMail has caught up, there is one email, not two
    emails = harness.check_one_send(marker, run.answer, settle=BUDGET + 0.7 - run.seconds)
    assert len(emails) == 1


@pytest.mark.parametrize("event_name", ["inbox", "read_email", "send"])
def test_a_slow_drip_body_cannot_outlast_the_function(harness: Harness, event_name: str) -> None:
    # GIVEN MultiMail sends its answer a few bytes at a time, over far longer than the function has
    harness.inject(Faults.slow_drip(total_seconds=20, chunk_bytes=4), path_contains="/v1/")
    marker = new_marker()
    event = send_event(marker) if event_name == "send" else load_event(event_name)
    # WHEN the agent calls with 2 s left
    run = harness.run(event, timeout_seconds=BUDGET)
    # THEN the function stops reading at its deadline and answers
    ended_in_time(run)
    assert run.answer.status == 504
    assert "did not arrive in time" in run.answer.message
    if event_name == "send":  # the stand-in created the email before dripping: one, and the model is told
        assert len(harness.check_one_send(marker, run.answer)) == 1


def test_after_a_slow_drip_the_next_call_is_clean(harness: Harness) -> None:
    # A regression guard: urllib3 discards a pooled connection that still has unread bytes, and the
    # cut-off at the deadline must keep it that way.
    # GIVEN a call abandoned mid-body (the pooled connection still has bytes on the way)
    harness.inject(Faults.slow_drip(total_seconds=4, chunk_bytes=64), path_contains="/emails")
    first = harness.run(load_event("inbox"), timeout_seconds=BUDGET)
    assert first.answer.status == 504
    # WHEN the next invocation (a warm Lambda, same pool) lists the inbox
    second = harness.run(load_event("inbox"), timeout_seconds=BUDGET)
    # THEN it gets a proper answer, not the leftovers of the first
    assert second.answer.status == 200, second.answer.body
    inbound = [e.id for e in harness.standin.emails(AGENT_MAILBOX_ID) if e.direction == "inbound"]
    assert {e["id"] for e in second.answer.body["emails"]} <= set(inbound)
    assert second.answer.body["count"] == min(len(inbound), 10)


# -- 429 ------------------------------------------------------------------------------------------


def test_a_short_retry_after_that_fits_is_honoured_once(harness: Harness) -> None:
    # GIVEN MultiMail answers 429 with Retry-After: 1, and the function has 5 s
    harness.inject(Faults.status(429, headers={"Retry-After": "1"}), path_contains="/send")
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker), timeout_seconds=5)
    # THEN the function waited, tried again, and the email was accepted once
    harness.check_sent(marker, run.answer)
    assert run.seconds >= 1.0
    assert posts(harness) == 2
    assert len(harness.check_one_send(marker, run.answer)) == 1


@pytest.mark.parametrize(("retry_after", "budget"), [("120", 30.0), ("2", BUDGET), ("6", 30.0)])
def test_a_retry_after_that_does_not_fit_is_reported_not_slept(
    harness: Harness, retry_after: str, budget: float
) -> None:
    # GIVEN a 429 whose Retry-After is longer than the budget (or than the function will wait)
    harness.inject(Faults.status(429, headers={"Retry-After": retry_after}), path_contains="/send")
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker), timeout_seconds=budget)
    # THEN it answers at once (no pause): rate limited, when to retry, and that nothing was sent
    assert harness.pauses == []
    assert run.answer.status == 429
    assert run.answer.body["error"] == "rate_limited"
    assert run.answer.body["retry_after_seconds"] == int(retry_after)
    assert run.answer.body["sent"] is False
    assert f"retry after {retry_after} s" in run.answer.message
    assert "not sent" in run.answer.message
    assert posts(harness) == 1
    harness.check_one_send(marker, run.answer)


def test_the_stand_ins_real_rate_limit_is_reported_with_its_retry_after(harness: Harness) -> None:
    # GIVEN MultiMail allows one request a minute for this key, and it has been used
    harness.standin.set_rate_limit(1)
    first = harness.run(load_event("inbox"))
    assert first.answer.status == 200
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker))
    # THEN the real 429 reaches the model with the stand-in's Retry-After, and nothing was created
    COUNTS.faults += 1
    assert run.answer.status == 429
    assert 1 <= run.answer.body["retry_after_seconds"] <= 60
    assert run.answer.body["sent"] is False
    assert not harness.check_one_send(marker, run.answer)


def test_a_429_on_a_read_is_retried_when_it_fits(harness: Harness) -> None:
    harness.inject(Faults.status(429, headers={"Retry-After": "1"}), path_contains="/emails")
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    assert run.answer.status == 200
    assert gets(harness) == 2


# -- 5xx, HTML, malformed, oversized, dropped -----------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503])
@pytest.mark.parametrize("failures", [1, 2])
def test_a_read_is_retried_through_server_errors(harness: Harness, code: int, failures: int) -> None:
    # GIVEN MultiMail fails `failures` times, then recovers
    harness.inject(Faults.status(code), times=failures, path_contains="/emails")
    # WHEN the agent lists the inbox THEN it gets the inbox, after failures + 1 attempts
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    assert run.answer.status == 200
    assert gets(harness) == failures + 1


@pytest.mark.parametrize("code", [500, 502, 503])
@pytest.mark.parametrize(("budget", "attempts"), [(5.0, 3), (BUDGET, 1)])
def test_retries_of_a_read_are_bounded_by_attempts_and_budget(
    harness: Harness, code: int, budget: float, attempts: int
) -> None:
    # GIVEN MultiMail keeps failing
    harness.inject(Faults.status(code), times=50, path_contains="/emails")
    # WHEN the agent lists the inbox with 5 s left (room for three attempts) or 2 s (room for one)
    run = harness.run(load_event("inbox"), timeout_seconds=budget)
    # THEN it stops after at most three attempts, and before its deadline, and says MultiMail failed
    assert gets(harness) == attempts
    ended_in_time(run, budget)
    assert run.answer.status == 502
    assert run.answer.body["upstream_status"] == code
    assert f"status {code}" in run.answer.message


@pytest.mark.parametrize("code", [500, 502, 503])
@pytest.mark.parametrize("kind", ["send", "reply"])
def test_a_send_that_got_a_server_error_is_not_retried(harness: Harness, code: int, kind: str) -> None:
    # GIVEN MultiMail answers a POST with a 5xx (it may have queued the email before failing)
    harness.inject(Faults.status(code), path_contains=f"/{kind}")
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker) if kind == "send" else reply_event(marker), timeout_seconds=5)
    # THEN the POST is not repeated, and the model is told to check the pending list, not to resend
    assert posts(harness) == 1
    assert run.answer.status == 502
    assert "Do NOT send it again" in run.answer.message
    harness.check_one_send(marker, run.answer)


@pytest.mark.parametrize("code", [200, 502, 503])
def test_an_html_error_page_is_not_passed_to_the_model(harness: Harness, code: int) -> None:
    # GIVEN a proxy in front of MultiMail answers with an HTML page
    harness.inject(Faults.status(code, HTML_PAGE, content_type="text/html"), times=3, path_contains="/emails")
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    # THEN it gets a short explanation without the page's markup
    assert run.answer.status == 502
    assert "<html" not in json.dumps(run.answer.body).lower()
    assert "nginx" not in run.answer.message


@pytest.mark.parametrize("body", ['{"emails": [', "[]", '"ok"', "\x00\x01\x02", "null"])
def test_malformed_json_on_a_read_is_reported(harness: Harness, body: str) -> None:
    harness.inject(Faults.status(200, body), path_contains="/emails")
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    assert run.answer.status == 502
    assert "not with the JSON object" in run.answer.message


@pytest.mark.parametrize("body", ['{"id": ', "[]", "<html>accepted</html>"])
def test_malformed_json_after_a_send_says_it_is_probably_queued(harness: Harness, body: str) -> None:
    # GIVEN MultiMail answers a send with 202 and a body that is not a JSON object
    harness.inject(Faults.status(202, body), path_contains="/send")
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker), timeout_seconds=5)
    # THEN the model hears that the email is probably queued and must not be sent again
    assert run.answer.status == 502
    assert "probably queued" in run.answer.message
    assert "Do NOT send it again" in run.answer.message
    assert posts(harness) == 1
    harness.check_one_send(marker, run.answer)


@pytest.mark.parametrize("declare_length", [True, False])
def test_an_oversized_answer_is_cut_off(harness: Harness, declare_length: bool) -> None:
    # GIVEN MultiMail answers with 3 MB (over the 2 MB cap), each time
    harness.inject(Faults.oversized(3 * 1024 * 1024, declare_length=declare_length), times=3, path_contains="/emails")
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=BUDGET)
    # THEN the function reads no further than the cap, answers in time, and the answer stays small
    ended_in_time(run)
    assert run.answer.status == 504
    assert "larger than 2048 KB" in run.answer.message
    assert len(json.dumps(run.answer.raw)) < 2_000


def test_one_oversized_answer_on_a_read_is_retried(harness: Harness) -> None:
    harness.inject(Faults.oversized(3 * 1024 * 1024), path_contains="/emails")
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    assert run.answer.status == 200
    assert gets(harness) == 2


def test_a_dropped_connection_on_a_read_is_retried(harness: Harness) -> None:
    harness.inject(Faults.close_connection(), path_contains="/emails")
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    assert run.answer.status == 200
    assert gets(harness) == 2


def test_a_dropped_connection_on_a_send_is_not_retried(harness: Harness) -> None:
    harness.inject(Faults.close_connection(), path_contains="/send")
    marker = new_marker()
    run = harness.run(send_event(marker), timeout_seconds=5)
    assert posts(harness) == 1
    assert run.answer.status == 504
    assert "Do NOT send it again" in run.answer.message
    harness.check_one_send(marker, run.answer)


# -- 401 after a key rotation ---------------------------------------------------------------------


def test_a_rotated_key_is_refreshed_once_then_the_send_succeeds(harness: Harness) -> None:
    # GIVEN a warm function that has read (and cached) the key
    assert harness.run(load_event("inbox")).answer.status == 200
    assert len(harness.secret_reads) == 1
    # AND the key was rotated: MultiMail now refuses the old one, and the secret holds the new one
    old = harness.standin.agent_key
    new = harness.rotate_key()
    COUNTS.faults += 1
    harness.standin.clear_requests()
    marker = new_marker()
    # WHEN the agent sends
    run = harness.run(send_event(marker))
    # THEN the function got a 401, read the secret again once, and the send went through once
    harness.check_sent(marker, run.answer)
    assert [r.header("Authorization") for r in harness.standin.requests] == [f"Bearer {old}", f"Bearer {new}"]
    assert len(harness.secret_reads) == 2
    assert len(harness.check_one_send(marker, run.answer)) == 1
    # AND later calls use the cached new key: no more Secrets Manager reads
    assert harness.run(load_event("inbox")).answer.status == 200
    assert len(harness.secret_reads) == 2


def test_a_revoked_key_does_not_turn_every_call_into_a_secret_read(harness: Harness) -> None:
    # GIVEN a warm function, and a key that MultiMail revoked without a new one in the secret
    assert harness.run(load_event("inbox")).answer.status == 200
    harness.standin.rotate_agent_key(f"mm_live_unknown_{uuid.uuid4().hex}")
    COUNTS.faults += 1
    # WHEN the agent tries five times
    answers = [harness.run(load_event("inbox")).answer for _ in range(5)]
    # THEN each answer says the key was rejected and an operator must act
    assert {a.status for a in answers} == {401}
    assert all("operator must update the secret" in a.message for a in answers)
    # AND Secrets Manager was asked at most twice in all (the first read and one forced refresh)
    assert len(harness.secret_reads) == 2


# -- any mix of quick faults ----------------------------------------------------------------------

QUICK_FAULTS: list[Fault] = [
    Faults.status(500),
    Faults.status(502, HTML_PAGE, content_type="text/html"),
    Faults.status(503, headers={"Retry-After": "0"}),
    Faults.status(429, headers={"Retry-After": "0"}),
    Faults.status(429, headers={"Retry-After": "120"}),
    Faults.status(429),
    Faults.status(202, '{"id": '),
    Faults.status(200, "[]"),
    Faults.status(404),
    Faults.status(409),
    Faults.status(422, '{"error": "bad recipient"}'),
    Faults.status(418),
    Faults.close_connection(),
    Faults.oversized(2 * 1024 * 1024 + 10),
    Faults.accept_then_stall(0.05),
    Faults.slow_drip(0.1, chunk_bytes=256),
    # odd answers (issue 12): unreadable waits, bodies too deep to parse, error text quoting the key
    Faults.status(429, headers={"Retry-After": "inf"}),
    Faults.status(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    Faults.status(202, "[" * 50_000 + "]" * 50_000),
    Faults.status(401, json.dumps({"error": f"invalid key Bearer {DEFAULT_AGENT_KEY}"})),
    Faults.status(422, json.dumps({"error": f"key {DEFAULT_AGENT_KEY} may not send"})),
]


IDEMPOTENCY_TABLE = "email-actions-idempotency"


@pytest.fixture
def idempotency_table(harness: Harness) -> str:
    create_idempotency_table(IDEMPOTENCY_TABLE)
    return IDEMPOTENCY_TABLE


@hardening_settings(weight=1.0)
@given(
    faults=st.lists(st.sampled_from(QUICK_FAULTS), min_size=1, max_size=3),
    kind=st.sampled_from(("send", "reply")),
    model_repeats=st.booleans(),
    with_table=st.booleans(),
)
# Found by `make fuzz`: the first send succeeds, the repeat meets a 429 or a 404.
@example(faults=[Faults.accept_then_stall(0.05), Faults.status(404)], kind="send", model_repeats=True, with_table=False)
@example(faults=[Faults.accept_then_stall(0.05), Faults.status(429)], kind="reply", model_repeats=True, with_table=True)
def test_any_mix_of_faults_never_duplicates_a_send(
    harness: Harness, idempotency_table: str, faults: list[Fault], kind: str, model_repeats: bool, with_table: bool
) -> None:
    # GIVEN one to three faults queued for the next POSTs, with or without the DynamoDB record table
    if with_table:
        harness.monkeypatch.setenv("IDEMPOTENCY_TABLE", idempotency_table)
    else:
        harness.monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    harness.reset()
    harness.fresh()
    for fault in faults:
        harness.inject(fault, path_contains=f"/{kind}")
    marker = new_marker()
    event = send_event(marker) if kind == "send" else reply_event(marker)
    # WHEN the agent sends or replies once
    run = harness.run(event, timeout_seconds=5)
    ended_in_time(run, 5)
    # THEN the answer tells the truth about what exists upstream
    harness.check_truth(marker, run.answer)
    # AND WHEN, against the advice, the model sends the same again at once (more faults may hit it)
    if model_repeats:
        run = harness.run(event, timeout_seconds=5)
        ended_in_time(run, 5)
    # THEN there is still at most one email. The repeat's answer is held to the truth only with the
    # idempotency table: without it, a repeat that meets a 429 truly was not sent, though the first was.
    harness.check_one_send(marker, run.answer, truthful=with_table or not model_repeats)
    harness.standin.clear_faults()


@hardening_settings(weight=0.5)
@given(faults=st.lists(st.sampled_from(QUICK_FAULTS), min_size=1, max_size=4))
def test_any_mix_of_faults_on_a_read_gets_a_bounded_answer(harness: Harness, faults: list[Fault]) -> None:
    # GIVEN up to four faults queued for the next GETs
    harness.fresh()
    for fault in faults:
        harness.inject(fault, path_contains=f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails")
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    # THEN at most three attempts, in time, and either the inbox or an explanation
    assert gets(harness) <= 3
    ended_in_time(run, 5)
    assert run.answer.status == 200 or run.answer.body.get("error"), run.answer.body
    harness.standin.clear_faults()
