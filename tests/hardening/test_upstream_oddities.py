"""Odd but possible answers from MultiMail (or a proxy in front of it) map to the usual answers:
a 429 with a sane, bounded wait, or a 502 that says what it can. Never `internal_error`, and for a
send whose fate is unknown, the advice to check the pending list before sending again.
"""

from __future__ import annotations

import json
import time
import uuid
from email.utils import formatdate
from typing import Any

import pytest

from devtools.local_env import create_idempotency_table
from devtools.multimail_standin import Fault, Faults
from email_actions.multimail import MAX_RETRY_AFTER_SECONDS, UNREADABLE_RETRY_AFTER_SECONDS
from tests.conftest import load_event, mail_requests, with_body
from tests.hardening.conftest import Harness, Run
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("upstream_text")

READ_PATH = "/emails/em_seed_invoice"
EXACTLY_ONCE_TABLE = "email-actions-idempotency"


def send_event(marker: str) -> dict[str, Any]:
    return with_body(load_event("send"), subject=f"Oddity {marker}", body=f"Body of {marker}")


def new_marker() -> str:
    return uuid.uuid4().hex[:12]


def send_against(harness: Harness, fault: Fault) -> tuple[str, Run]:
    """A fresh send whose first POST meets `fault`: its marker, and the run."""
    harness.fresh()
    harness.inject(fault, path_contains="/send")
    marker = new_marker()
    return marker, harness.run(send_event(marker), timeout_seconds=5)


def http_date(seconds_from_now: float) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)


def strict_json(text: str) -> Any:
    """JSON as Bedrock and every strict parser read it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


# The tests loop over their cases: a stand-in and moto per case would cost most of a minute.

# -- Retry-After --------------------------------------------------------------------------------

CAP, UNREADABLE = MAX_RETRY_AFTER_SECONDS, UNREADABLE_RETRY_AFTER_SECONDS
RETRY_AFTERS: list[tuple[str, int]] = [  # header value -> the wait the model hears
    ("inf", CAP),
    ("Infinity", CAP),
    ("nan", UNREADABLE),
    ("NaN", UNREADABLE),
    ("1e30", CAP),
    ("1e400", CAP),
    ("9" * 5000, CAP),
    ("7200", CAP),
    ("soon", UNREADABLE),
    ("", UNREADABLE),
    ("0x10", UNREADABLE),
    ("1_000", UNREADABLE),
    ("120, 30", UNREADABLE),
    ("Fri, 31 Dec 9999 23:59:59 GMT", CAP),
    ("Thu, 99 Foo 2020 99:99:99 GMT", UNREADABLE),
]
# Waits that come out short (a date in the past means now): a send is tried again, and goes out once.
SHORT_RETRY_AFTERS = [
    "-inf",
    "-5",
    "1.5",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",  # the obsolete RFC 850 form, also allowed
    "Sun Nov  6 08:49:37 1994",  # and asctime's
]


def test_an_odd_retry_after_on_a_send_is_a_bounded_429(harness: Harness) -> None:
    for header, expected in RETRY_AFTERS:
        # GIVEN MultiMail answers a send with 429 and an odd Retry-After
        # WHEN the agent sends
        marker, run = send_against(harness, Faults.status(429, headers={"Retry-After": header}))
        # THEN it hears "rate limited, not sent" with a whole number of seconds within the cap, at once
        assert run.answer.status == 429, (header[:40], run.answer.body)
        assert run.answer.body["retry_after_seconds"] == expected, header[:40]
        assert run.answer.body["sent"] is False
        assert f"retry after {expected} s" in run.answer.message
        assert harness.pauses == []
        assert not harness.check_one_send(marker, run.answer)


def test_a_short_odd_retry_after_on_a_send_is_waited_out_once(harness: Harness) -> None:
    for header in SHORT_RETRY_AFTERS:
        # GIVEN a send answered once with 429 and a Retry-After that comes to at most two seconds
        # WHEN the agent sends
        marker, run = send_against(harness, Faults.status(429, headers={"Retry-After": header}))
        # THEN the function waited as asked (rounded up), tried once more, and the email went out once
        assert [r.method for r in mail_requests(harness.standin)] == ["POST", "POST"], header
        assert len(harness.pauses) == 1
        assert harness.pauses[0] <= 2, header
        harness.check_sent(marker, run.answer)
        assert len(harness.check_one_send(marker, run.answer)) == 1


@pytest.mark.parametrize("seconds", [90, 600])
def test_a_retry_after_date_in_the_future_gives_the_delay_until_then(harness: Harness, seconds: int) -> None:
    # GIVEN a 429 whose Retry-After is an HTTP date `seconds` from now (RFC 9110 allows it)
    harness.inject(Faults.status(429, headers={"Retry-After": http_date(seconds)}), path_contains="/send")
    # WHEN the agent sends
    run = harness.run(send_event(new_marker()), timeout_seconds=5)
    # THEN the wait is the time until that date (the date has a one-second resolution)
    assert run.answer.status == 429
    assert seconds - 2 <= run.answer.body["retry_after_seconds"] <= seconds + 1


@pytest.mark.parametrize("header", ["-5", "Wed, 21 Oct 2015 07:28:00 GMT", "nan", "inf"])
def test_an_odd_retry_after_on_a_read_is_retried_only_when_it_is_short(harness: Harness, header: str) -> None:
    # GIVEN a read answered once with 429 and an odd Retry-After
    harness.inject(Faults.status(429, headers={"Retry-After": header}), path_contains="/emails")
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    # THEN a wait of 0 (negative, past date) is retried at once; an unreadable or endless one is reported
    reads = [r for r in mail_requests(harness.standin) if r.method == "GET"]
    if header in ("nan", "inf"):
        assert run.answer.status == 429
        assert len(reads) == 1
    else:
        assert run.answer.status == 200, run.answer.body
        assert len(reads) == 2
        assert harness.pauses == [0], header


# -- bodies that are not the JSON object they should be -------------------------------------------

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
MODERATELY_DEEP = '{"id": "em_x", "markdown": ' + "[" * 900 + "]" * 900 + "}"
ODD_SUCCESS_BODIES: list[bytes | str] = [
    DEEP_ARRAY,
    DEEP_OBJECT,
    MODERATELY_DEEP,
    b'{"id": "em_x", "markdown": "\xff\xfe caf\xe9"}',  # invalid UTF-8
    b"\xff\xfe\x00\x00",
    "[]",
    '[{"id": "em_x"}]',
    '"ok"',
    "1",
    "1" * 5000,  # an integer longer than Python will parse
    "null",
    "true",
]


@pytest.mark.parametrize("event_name", ["inbox", "read_email", "pending"])
def test_an_odd_success_body_on_a_read_is_a_502(harness: Harness, event_name: str) -> None:
    for body in ODD_SUCCESS_BODIES:
        harness.fresh()
        # GIVEN MultiMail answers a read with 200 and a body that is not a usable JSON object
        harness.inject(Faults.status(200, body), times=2, path_contains="/v1/")
        # WHEN the agent reads
        run = harness.run(load_event(event_name), timeout_seconds=5)
        # THEN it hears that MultiMail answered oddly (not that the function failed), and nothing changed
        assert run.answer.status == 502, (repr(body)[:40], run.answer.body)
        assert run.answer.body["error"] == "multimail_unavailable"
        assert "not with the JSON object" in run.answer.message


@pytest.mark.parametrize("status", [200, 202])
def test_an_odd_success_body_on_a_send_says_it_may_exist(harness: Harness, status: int) -> None:
    for body in ODD_SUCCESS_BODIES:
        # GIVEN MultiMail accepts a send but answers with a body that is not a usable JSON object
        # WHEN the agent sends
        marker, run = send_against(harness, Faults.status(status, body))
        # THEN a 502 that says the email is probably queued, and to check the pending list before retrying
        assert run.answer.status == 502, (repr(body)[:40], run.answer.body)
        assert "probably queued" in run.answer.message
        assert "Do NOT send it again" in run.answer.message
        assert "listPendingEmails" in run.answer.message
        harness.check_one_send(marker, run.answer)


ODD_ERROR_BODIES: list[bytes | str] = [
    DEEP_ARRAY,
    DEEP_OBJECT,
    b'{"error": "\xff\xfe"}',
    '{"error": ' + "[" * 900 + "]" * 900 + "}",
]


@pytest.mark.parametrize("status", [400, 404, 409, 422, 429, 500, 503])
def test_an_odd_error_body_keeps_the_status_answer(harness: Harness, status: int) -> None:
    for body in ODD_ERROR_BODIES:
        # GIVEN MultiMail answers a send with an error status and a body we cannot read
        # WHEN the agent sends
        marker, run = send_against(harness, Faults.status(status, body))
        # THEN the answer is the status's usual one, not internal_error
        assert run.answer.body["error"] != "internal_error", (repr(body)[:40], run.answer.body)
        assert run.answer.status in (400, 404, 409, 422, 429, 502), run.answer.body
        harness.check_one_send(marker, run.answer)


def test_nan_and_infinity_in_a_success_body_do_not_reach_the_answer(harness: Harness) -> None:
    # GIVEN MultiMail's answer uses Python's JSON extensions NaN and Infinity (not JSON)
    body = '{"id": "em_seed_invoice", "subject": "Hi", "markdown": "Body", "size": NaN, "score": -Infinity}'
    harness.inject(Faults.status(200, body), path_contains=READ_PATH)
    # WHEN the agent reads the email
    run = harness.run(load_event("read_email"), timeout_seconds=5)
    # THEN it gets the email, in an answer that strict JSON parsers accept
    assert run.answer.status == 200, run.answer.body
    strict_json(json.dumps(run.answer.raw))
    strict_json(run.answer.raw["response"]["responseBody"]["application/json"]["body"])


def test_lone_surrogates_in_a_success_body_do_not_break_the_answer(harness: Harness) -> None:
    # GIVEN an email whose JSON holds escaped lone surrogates (valid JSON, but not encodable text)
    body = '{"id": "em_seed_invoice", "subject": "Hi \\ud800", "markdown": "Body \\udfff end", "from": "a\\ud83d@x.io"}'
    harness.inject(Faults.status(200, body), path_contains=READ_PATH)
    # WHEN the agent reads it
    run = harness.run(load_event("read_email"), timeout_seconds=5)
    # THEN it gets the email, and the answer is valid UTF-8 all through
    assert run.answer.status == 200, run.answer.body
    json.dumps(run.answer.raw, ensure_ascii=False).encode("utf-8")
    assert "Body \ufffd end" in run.answer.body["email"]["untrusted"]["body"]
    COUNTS.faults += 1


@pytest.mark.parametrize(
    "key", ["mm_live_\u4e2d\u6587", "mm_live_caf\u00e9", "mm_live_ab\x01cd"], ids=["cjk", "latin1", "control"]
)
def test_a_key_that_cannot_be_sent_in_a_header_is_reported_not_crashed(harness: Harness, key: str) -> None:
    # GIVEN the secret holds a key with characters an HTTP header cannot carry
    harness.store_key(key)
    harness.reset()
    # WHEN the agent lists the inbox
    run = harness.run(load_event("inbox"), timeout_seconds=5)
    # THEN it hears that the key is unusable (an operator's job), and no request went out
    assert run.answer.status == 500, run.answer.body
    assert run.answer.body["error"] == "api_key_unavailable"
    assert key not in json.dumps(run.answer.raw, ensure_ascii=False)
    assert harness.standin.requests == []


# -- a 2xx that names no email (issue 20, item 10) ------------------------------------------------

ACCEPTED_WITHOUT_AN_ID = [
    "{}",
    "",
    '{"status": "pending_scan"}',
    '{"id": "", "status": "pending_scan"}',
    '{"id": 42, "status": "pending_scan"}',
    '{"id": null}',
    '{"id": "../../cancel", "status": "pending_scan"}',
]


@pytest.mark.parametrize("route", ["send", "reply"])
def test_a_2xx_without_an_email_id_is_not_called_accepted_nor_recorded_as_done(harness: Harness, route: str) -> None:
    create_idempotency_table(EXACTLY_ONCE_TABLE)
    harness.monkeypatch.setenv("IDEMPOTENCY_TABLE", EXACTLY_ONCE_TABLE)
    harness.reset()
    for status in (200, 202):
        for body in ACCEPTED_WITHOUT_AN_ID:
            # GIVEN MultiMail answers the send or reply with a 2xx that names no email
            marker = new_marker()
            event = (
                send_event(marker)
                if route == "send"
                else with_body(load_event("reply"), body=f"Reply {marker}", cc=f"cc-{marker}@example.com")
            )
            harness.fresh()
            harness.inject(Faults.status(status, body), path_contains="/send" if route == "send" else "/reply/")
            # WHEN the agent calls
            run = harness.run(event, timeout_seconds=5)
            # THEN it is not told the email was accepted: the answer could not be read, check the pending list
            assert run.answer.status == 502, (status, body, run.answer.body)
            assert run.answer.body["error"] == "answer_unreadable"
            assert run.answer.body["status"] == "unknown"
            assert "could not be read" in run.answer.message
            assert "listPendingEmails" in run.answer.message
            assert "email id )" not in json.dumps(run.answer.body)
            # AND nothing was stored as done: the same call again reaches MultiMail and is answered by it
            again = harness.run(event, timeout_seconds=5)
            assert again.answer.status == 200, again.answer.body
            assert again.answer.body["email_id"]
            assert not again.answer.body.get("repeat"), again.answer.body
