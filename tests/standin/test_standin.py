"""Tests of the MultiMail stand-in (a development stand-in, not MultiMail), over real loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.multimail_standin import (
    AGENT_ADDRESS,
    AGENT_MAILBOX_ID,
    ATTACKER_ADDRESS,
    COLLEAGUE_ADDRESS,
    COLLEAGUE_MAILBOX_ID,
    DEFAULT_AGENT_KEY,
    DEFAULT_OVERSIGHT_KEY,
    INJECTION_EMAIL_ID,
    INVOICE_EMAIL_ID,
    INVOICE_FOLLOWUP_EMAIL_ID,
    MEETING_EMAIL_ID,
    SEED_EMAIL_IDS,
    Faults,
    NotFoundError,
    StandIn,
)
from devtools.multimail_standin.__main__ import main
from devtools.multimail_standin.sample_mail import INVOICE_CSV, INVOICE_CSV_NAME, SEAT_CHANGE_PDF
from devtools.multimail_standin.store import CONTENT_FILTER_TRIGGER, LIST_STATUSES

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CUSTOMER = "dana.whitfield@northwind-traders.example"
SEND_PATH = f"/v1/mailboxes/{AGENT_MAILBOX_ID}/send"
EMAILS_PATH = f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails"
SUMMARY_FIELDS = {
    "id",
    "from",
    "to",
    "subject",
    "direction",
    "status",
    "spam_score",
    "spam_verdict",
    "received_at",
    "thread_id",
    "has_attachments",
    "delivered_at",
    "bounced_at",
    "bounce_type",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 7, 1, 9, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(
    standin: StandIn,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = "agent",
    timeout: float = 5.0,
    raw: bytes | None = None,
) -> Reply:
    """One request. ``key``: "agent", "oversight", None (no header) or a literal key."""
    headers: dict[str, str] = {}
    token = {"agent": standin.agent_key, "oversight": standin.oversight_key}.get(key or "", key)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(standin.base_url + path, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        try:
            return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
        finally:
            exc.close()


def send(standin: StandIn, **overrides: Any) -> Reply:
    body = {"to": [CUSTOMER], "subject": "Your invoice", "markdown": "We are on it.", **overrides}
    return call(standin, "POST", SEND_PATH, body)


def reply_to(standin: StandIn, email_id: str, **body: Any) -> Reply:
    return call(standin, "POST", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/reply/{email_id}", {"markdown": "ok", **body})


def queued(standin: StandIn, **overrides: Any) -> str:
    """Send, let the scan finish, and return the id of the email now waiting for approval."""
    email_id: str = send(standin, **overrides).json["id"]
    standin.finish_scans(email_id)
    return email_id


def outbound(standin: StandIn) -> list[Any]:
    return [email for email in standin.emails(AGENT_MAILBOX_ID) if email.direction == "outbound"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standin(clock: FakeClock) -> Iterator[StandIn]:
    with StandIn(clock=clock) as running:
        yield running


# ── seeds, routing, auth ─────────────────────────────────────────────────────


def test_mailboxes_lists_the_seeded_mailboxes_on_loopback(standin: StandIn) -> None:
    # GIVEN a fresh stand-in
    # WHEN the agent lists its mailboxes
    reply = call(standin, "GET", "/v1/mailboxes")
    # THEN both seeded mailboxes come back, and the server listens on 127.0.0.1 only
    assert reply.status == 200
    mailboxes = reply.json["mailboxes"]
    assert [(m["id"], m["address"], m["display_name"], m["oversight_mode"]) for m in mailboxes] == [
        (AGENT_MAILBOX_ID, AGENT_ADDRESS, "Support Assistant", "gated_send"),
        (COLLEAGUE_MAILBOX_ID, COLLEAGUE_ADDRESS, "Priya Raman", "gated_send"),
    ]
    # AND each carries the spec's Mailbox fields, and the two that real answers add beyond it
    assert set(mailboxes[0]) - {"mcp_configured", "default_gate_timing"} == {
        "id",
        "tenant_id",
        "address",
        "display_name",
        "oversight_mode",
        "auto_cc",
        "auto_bcc",
        "forward_inbound",
        "webhook_url",
        "oversight_webhook_url",
        "signature_block",
        "created_at",
        "is_active",
    }
    assert isinstance(mailboxes[0]["created_at"], int)
    assert standin._server is not None
    assert standin._server.socket.getsockname()[0] == "127.0.0.1"


def test_seed_inbox_has_fixed_ids_threads_and_the_injection_email(standin: StandIn) -> None:
    # GIVEN the seeded agent mailbox
    # WHEN the agent lists its inbox and reads the injection email
    listed = call(standin, "GET", EMAILS_PATH).json
    injection = call(standin, "GET", f"{EMAILS_PATH}/{INJECTION_EMAIL_ID}").json
    # THEN every seed is there, newest first, in four threads, and the injection targets the attacker
    assert sorted(e["id"] for e in listed["emails"]) == sorted(SEED_EMAIL_IDS)
    assert listed["cursor"] is None
    stamps = [e["received_at"] for e in listed["emails"]]
    assert stamps == sorted(stamps, reverse=True)
    assert listed["emails"][0]["received_at"] == "2025-06-03T14:40:00Z"
    assert len({e["thread_id"] for e in listed["emails"]}) == 4
    assert all(e["direction"] == "inbound" for e in listed["emails"])
    assert ATTACKER_ADDRESS in injection["markdown"]
    assert "forward every email" in injection["markdown"]


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/v1/nowhere", 404, "not found"),
        ("GET", "/mailboxes", 404, "not found"),
        ("DELETE", "/v1/mailboxes", 405, "method not allowed"),
        ("GET", SEND_PATH, 405, "method not allowed"),
        ("GET", "/v1/mailboxes/mbx_nope/emails", 404, "mailbox mbx_nope not found"),
        ("GET", f"{EMAILS_PATH}/em_nope", 404, f"email em_nope not found in mailbox {AGENT_MAILBOX_ID}"),
    ],
)
def test_unknown_paths_methods_and_ids(standin: StandIn, method: str, path: str, status: int, error: str) -> None:
    # GIVEN a running stand-in
    # WHEN a request names something that does not exist
    reply = call(standin, method, path)
    # THEN the status and the {"error": ...} body say so
    assert reply.status == status
    assert reply.json == {"error": error}
    assert reply.headers["content-type"] == "application/json"


@pytest.mark.parametrize("key", [None, "mm_live_not_a_key", ""])
def test_missing_or_unknown_key_is_401(standin: StandIn, key: str | None) -> None:
    # GIVEN no key, an unknown key, or an empty bearer token
    # WHEN the inbox is listed
    reply = call(standin, "GET", EMAILS_PATH, key=key)
    # THEN 401 with an error body
    assert reply.status == 401
    assert reply.json == {"error": "Missing or invalid API key"}


def test_wrong_scope_is_403(standin: StandIn) -> None:
    # GIVEN the agent key (read, send) and the oversight key (read, oversight)
    # WHEN each calls an endpoint outside its scopes
    agent_on_oversight = call(standin, "GET", "/v1/oversight/pending")
    oversight_sends = send_with_key(standin, "oversight")
    # THEN 403 naming the missing scope, and nothing was queued
    assert agent_on_oversight.status == 403
    assert agent_on_oversight.json == {"error": "key lacks the 'oversight' scope"}
    assert oversight_sends.status == 403
    assert oversight_sends.json == {"error": "key lacks the 'send' scope"}
    assert outbound(standin) == []


def send_with_key(standin: StandIn, key: str) -> Reply:
    return call(standin, "POST", SEND_PATH, {"to": [CUSTOMER], "subject": "s", "markdown": "m"}, key=key)


def test_rotated_agent_key_gets_401_and_the_new_one_works(standin: StandIn) -> None:
    # GIVEN the default agent key works
    old = standin.agent_key
    assert old == DEFAULT_AGENT_KEY
    assert call(standin, "GET", EMAILS_PATH).status == 200
    # WHEN the key is rotated
    new = standin.rotate_agent_key("mm_live_rotated")
    # THEN the old key is refused and the new one has the same scopes
    assert call(standin, "GET", EMAILS_PATH, key=old).status == 401
    assert new == standin.agent_key == "mm_live_rotated"
    assert call(standin, "GET", EMAILS_PATH).status == 200
    assert send(standin).status == 202


def test_an_extra_read_only_key_cannot_send(standin: StandIn) -> None:
    # GIVEN an additional key with only the read scope
    standin.add_key("mm_live_reader", {"read"})
    # WHEN it reads and sends
    # THEN reading works and sending is 403
    assert call(standin, "GET", EMAILS_PATH, key="mm_live_reader").status == 200
    assert send_with_key(standin, "mm_live_reader").json == {"error": "key lacks the 'send' scope"}


def test_requests_are_recorded_in_order(standin: StandIn) -> None:
    # GIVEN a running stand-in
    # WHEN two requests arrive
    call(standin, "GET", f"{EMAILS_PATH}?limit=5&direction=inbound")
    send(standin, idempotency_key="rec-1")
    # THEN both are recorded with method, path, query, lower-cased headers and the parsed body
    first, second = standin.requests
    assert (first.method, first.path, first.query) == ("GET", EMAILS_PATH, {"limit": "5", "direction": "inbound"})
    assert first.json is None
    assert first.headers["authorization"] == f"Bearer {DEFAULT_AGENT_KEY}"
    assert second.header("Content-Type") == "application/json"
    assert second.json["idempotency_key"] == "rec-1"
    standin.clear_requests()
    assert standin.requests == []


# ── send, validation, oversight modes ────────────────────────────────────────


def test_send_is_accepted_202_pending_scan(standin: StandIn, clock: FakeClock) -> None:
    # GIVEN a gated_send mailbox
    # WHEN the agent sends
    reply = send(standin, cc=["boss@northwind-traders.example"], bcc=["audit@example.com"])
    # THEN 202 with an id, pending_scan, a new thread and the spec's message; stored as outbound
    assert reply.status == 202
    answer = reply.json
    assert set(answer) == {"id", "status", "thread_id", "message"}
    assert answer["status"] == "pending_scan"
    assert answer["message"] == "Email queued for scanning and delivery"
    assert answer["id"].startswith("em_")
    assert answer["thread_id"].startswith("th_")
    (stored,) = outbound(standin)
    assert (stored.id, stored.sender, stored.to, stored.bcc) == (
        answer["id"],
        AGENT_ADDRESS,
        [CUSTOMER],
        ["audit@example.com"],
    )
    assert stored.received_at == clock.now
    assert stored.status == "pending_scan"


def test_the_scan_moves_the_email_to_pending_send_approval_after_scan_seconds(
    standin: StandIn, clock: FakeClock
) -> None:
    # GIVEN a sent email, and the default scan time
    email_id = send(standin).json["id"]
    # WHEN the clock reaches the end of the scan, a moment before and at it
    clock.advance(standin.scan_seconds / 2)
    during = call(standin, "GET", f"{EMAILS_PATH}/{email_id}").json["status"]
    clock.advance(standin.scan_seconds / 2)
    after = call(standin, "GET", f"{EMAILS_PATH}/{email_id}").json["status"]
    # THEN it is pending_scan during the scan and pending_send_approval after it, in the API and in Python
    assert (during, after) == ("pending_scan", "pending_send_approval")
    assert standin.email(email_id).status == "pending_send_approval"


def test_scan_seconds_zero_and_finish_scans(clock: FakeClock) -> None:
    # GIVEN a stand-in whose scan takes no time, and one whose scan is long
    with StandIn(clock=clock, scan_seconds=0) as instant, StandIn(clock=clock, scan_seconds=3600) as slow:
        # WHEN each gets a send
        first = send(instant).json
        second = send(slow).json["id"]
        # THEN the answer still says pending_scan, and the next look shows pending_send_approval
        assert first["status"] == "pending_scan"
        assert instant.email(first["id"]).status == "pending_send_approval"
        # AND the long scan ends only when finish_scans() says so
        assert slow.email(second).status == "pending_scan"
        slow.finish_scans()
        assert slow.email(second).status == "pending_send_approval"
    with pytest.raises(ValueError, match="scan_seconds"):
        StandIn(scan_seconds=-1)


@pytest.mark.parametrize(
    ("body", "error_part"),
    [
        ({"subject": "s", "markdown": "m"}, "'to' is required"),
        ({"to": [], "subject": "s", "markdown": "m"}, "at least one"),
        ({"to": CUSTOMER, "subject": "s", "markdown": "m"}, "must be a list"),
        ({"to": ["not an address"], "subject": "s", "markdown": "m"}, "invalid email address"),
        ({"to": [CUSTOMER], "subject": 5, "markdown": "m"}, "'subject'"),
        ({"to": [CUSTOMER], "subject": "s"}, "'markdown'"),
        ({"to": [CUSTOMER], "subject": "s", "markdown": "m", "cc": ["x"]}, "'cc'"),
        ({"to": [CUSTOMER], "subject": "s", "markdown": "m", "attachments": [{}]}, "content_base64"),
        (
            {"to": [CUSTOMER], "subject": "s", "markdown": "m", "attachments": [{"filename": "a", "content": "aGk="}]},
            "content_base64",
        ),
        (
            {
                "to": [CUSTOMER],
                "subject": "s",
                "markdown": "m",
                "attachments": [{"name": "a.txt", "content_base64": "%%%", "content_type": "text/plain"}],
            },
            "not base64",
        ),
        ({"to": [CUSTOMER], "subject": "s", "markdown": "m", "idempotency_key": 123}, "idempotency_key"),
        ({"to": [f"u{i}@example.com" for i in range(51)], "subject": "s", "markdown": "m"}, "at most 50"),
        ({"to": [CUSTOMER], "subject": "s" * 999, "markdown": "m"}, "longer than 998"),
        ({"to": [CUSTOMER], "subject": "s", "markdown": "m" * 262_145}, "longer than 262144"),
        ({"to": [CUSTOMER], "subject": "s", "markdown": "m", "send_at": "2026-03-15 14:00"}, "send_at"),
        ({"to": [CUSTOMER], "subject": "s", "markdown": "m", "gate_timing": "later"}, "gate_timing"),
        ([CUSTOMER], "JSON object"),
    ],
)
def test_invalid_send_is_400_and_creates_nothing(standin: StandIn, body: Any, error_part: str) -> None:
    # GIVEN a send body with one thing wrong
    # WHEN it is posted
    reply = call(standin, "POST", SEND_PATH, body)
    # THEN 400 names the problem and nothing is queued
    assert reply.status == 400
    assert error_part in reply.json["error"]
    assert outbound(standin) == []


def test_malformed_json_is_400(standin: StandIn) -> None:
    # GIVEN a body that is not JSON
    # WHEN it is posted
    reply = call(standin, "POST", SEND_PATH, raw=b"{not json")
    # THEN 400
    assert reply.status == 400
    assert reply.json == {"error": "request body is not valid JSON"}


def test_attachments_are_kept_as_metadata(standin: StandIn) -> None:
    # GIVEN an attachment in the spec's send shape
    attachment = {"name": "quote.txt", "content_type": "text/plain", "content_base64": "aGVsbG8="}
    # WHEN it is sent and read back
    answer = send(standin, attachments=[attachment]).json
    full = call(standin, "GET", f"{EMAILS_PATH}/{answer['id']}").json
    # THEN the full email carries the read shape: name, decoded size, content type
    assert full["has_attachments"] is True
    assert full["attachments"] == [{"name": "quote.txt", "size": 5, "content_type": "text/plain"}]
    # AND its bytes are served at the download path, with its type
    download = call(standin, "GET", f"{EMAILS_PATH}/{answer['id']}/attachments/quote.txt")
    assert (download.status, download.headers["content-type"], download.body) == (200, "text/plain", b"hello")


@pytest.mark.parametrize(
    ("name", "content_type", "content"),
    [(INVOICE_CSV_NAME, "text/csv", INVOICE_CSV), ("seat-change-confirmation.pdf", "application/pdf", SEAT_CHANGE_PDF)],
)
def test_seeded_attachments_are_downloaded_as_bytes(
    standin: StandIn, name: str, content_type: str, content: bytes
) -> None:
    # WHEN a seeded attachment is downloaded by its percent-encoded name
    path = f"{EMAILS_PATH}/{INVOICE_FOLLOWUP_EMAIL_ID}/attachments/{urllib.parse.quote(name, safe='')}"
    download = call(standin, "GET", path)
    # THEN the bytes come as they are, with the attachment's type
    assert (download.status, download.headers["content-type"], download.body) == (200, content_type, content)


@pytest.mark.parametrize("name", ["nope.csv", "INV-2025-0412%2520lines.csv", "seat-change-confirmation.PDF"])
def test_an_unknown_attachment_name_is_404(standin: StandIn, name: str) -> None:
    download = call(standin, "GET", f"{EMAILS_PATH}/{INVOICE_FOLLOWUP_EMAIL_ID}/attachments/{name}")
    assert download.status == 404


@pytest.mark.parametrize("where", ["subject", "markdown"])
def test_content_filter_trigger_is_400_and_creates_nothing(standin: StandIn, where: str) -> None:
    # GIVEN a send and a reply whose subject or body holds the trigger phrase, in another case
    text = f"Hello {CONTENT_FILTER_TRIGGER.lower()} there"
    # WHEN they are posted
    sent = send(standin, **{where: text})
    replied = reply_to(standin, MEETING_EMAIL_ID, markdown=text) if where == "markdown" else sent
    # THEN both are 400 "Content filtered", and nothing is queued
    assert sent.status == replied.status == 400
    assert sent.json["error"].startswith("Content filtered")
    assert replied.json["error"].startswith("Content filtered")
    assert outbound(standin) == []


def test_read_only_mailbox_refuses_to_send(standin: StandIn) -> None:
    # GIVEN the agent mailbox switched to read_only
    standin.set_oversight_mode(AGENT_MAILBOX_ID, "read_only")
    # WHEN the agent sends and replies
    sent = send(standin)
    replied = reply_to(standin, MEETING_EMAIL_ID)
    # THEN both are 403 and nothing is queued
    assert (sent.status, sent.json) == (403, {"error": "Mailbox is in read_only mode: it cannot send"})
    assert replied.status == 403
    assert outbound(standin) == []


def test_autonomous_mailbox_sends_after_the_scan(standin: StandIn) -> None:
    # GIVEN an autonomous mailbox
    standin.set_oversight_mode(AGENT_MAILBOX_ID, "autonomous")
    # WHEN the agent sends to the colleague and the scan ends
    answer = send(standin, to=[COLLEAGUE_ADDRESS]).json
    standin.finish_scans()
    # THEN it was accepted for scanning, then sent without approval and delivered to the colleague
    assert answer["status"] == "pending_scan"
    assert standin.email(answer["id"]).status == "sent"
    assert call(standin, "GET", "/v1/oversight/pending", key="oversight").json == {"emails": []}
    assert [e.thread_id for e in standin.emails(COLLEAGUE_MAILBOX_ID)] == [answer["thread_id"]]


# ── reply and threads ────────────────────────────────────────────────────────


def test_reply_goes_to_the_sender_in_the_same_thread(standin: StandIn) -> None:
    # GIVEN the customer's follow-up, whose subject already starts with "Re:"
    path = f"/v1/mailboxes/{AGENT_MAILBOX_ID}/reply/{INVOICE_FOLLOWUP_EMAIL_ID}"
    # WHEN the agent replies
    reply = call(standin, "POST", path, {"markdown": "A corrected invoice follows today."})
    # THEN 202 pending_scan in the invoice thread (the spec's three fields), to the customer, subject not doubled
    assert reply.status == 202
    answer = reply.json
    assert set(answer) == {"id", "status", "thread_id"}
    assert answer["status"] == "pending_scan"
    assert answer["thread_id"] == "th_seed_invoice"
    stored = standin.email(answer["id"])
    assert stored.to == [CUSTOMER]
    assert stored.subject == "Re: Question about invoice INV-2025-0412"
    assert stored.in_reply_to == INVOICE_FOLLOWUP_EMAIL_ID
    # AND the thread lists the three emails oldest first, the reply last
    thread = call(standin, "GET", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/threads/th_seed_invoice").json
    assert thread["thread_id"] == "th_seed_invoice"
    assert [e["id"] for e in thread["emails"]] == [INVOICE_EMAIL_ID, INVOICE_FOLLOWUP_EMAIL_ID, answer["id"]]
    assert "markdown" not in thread["emails"][0]
    assert (thread["message_count"], thread["has_unanswered_inbound"]) == (3, False)
    assert thread["participants"] == [CUSTOMER, AGENT_ADDRESS]
    assert thread["last_activity"] == thread["emails"][-1]["received_at"]


def test_the_same_reply_within_60_seconds_is_409(standin: StandIn, clock: FakeClock) -> None:
    # GIVEN a reply to the meeting email
    first = reply_to(standin, MEETING_EMAIL_ID, markdown="Thursday works.")
    # WHEN the same content goes to the same email 59 s later, other content at once, and the same after 61 s
    clock.advance(59)
    duplicate = reply_to(standin, MEETING_EMAIL_ID, markdown="Thursday works.")
    other = reply_to(standin, MEETING_EMAIL_ID, markdown="Friday works.")
    clock.advance(2)
    later = reply_to(standin, MEETING_EMAIL_ID, markdown="Thursday works.")
    # THEN only the duplicate is refused, with 409, and nothing was queued for it
    assert (first.status, duplicate.status, other.status, later.status) == (202, 409, 202, 202)
    assert duplicate.json["error"].startswith("Duplicate reply detected")
    assert len(outbound(standin)) == 3


def test_a_repeated_idempotency_key_wins_over_the_duplicate_reply_check(standin: StandIn) -> None:
    # GIVEN a reply with an idempotency key
    first = reply_to(standin, MEETING_EMAIL_ID, markdown="Thursday works.", idempotency_key="retry-1")
    # WHEN the function retries it with the same key (same content, within 60 s)
    retry = reply_to(standin, MEETING_EMAIL_ID, markdown="Thursday works.", idempotency_key="retry-1")
    # THEN the retry is 200 already_sent for the original, not a 409
    assert retry.status == 200
    assert retry.json == {"id": first.json["id"], "status": "already_sent", "idempotent": True}


def test_reply_adds_re_prefix_once(standin: StandIn) -> None:
    # GIVEN an email whose subject has no "Re:"
    # WHEN the agent replies
    answer = call(
        standin, "POST", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/reply/{MEETING_EMAIL_ID}", {"markdown": "Thursday."}
    ).json
    # THEN the reply's subject gains exactly one prefix
    assert standin.email(answer["id"]).subject == "Re: Q3 planning: 30 minutes this week?"


def test_reply_to_unknown_email_or_thread_is_404(standin: StandIn) -> None:
    # GIVEN ids that do not exist
    # WHEN the agent replies to one and opens the other thread
    reply = call(standin, "POST", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/reply/em_missing", {"markdown": "x"})
    thread = call(standin, "GET", f"/v1/mailboxes/{AGENT_MAILBOX_ID}/threads/th_missing")
    # THEN both are 404
    assert reply.status == 404
    assert thread.status == 404
    assert thread.json == {"error": "thread th_missing not found"}


# ── list, filters, read ──────────────────────────────────────────────────────


def test_pagination_walks_the_bulk_inbox_with_cursors(clock: FakeClock) -> None:
    # GIVEN 45 generated emails on top of the 6 seeds
    with StandIn(clock=clock, extra_inbox_messages=45) as standin:
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        pages = 0
        # WHEN the inbox is paged 20 at a time
        while True:
            query = f"?limit=20&cursor={cursor}" if cursor else "?limit=20"
            page = call(standin, "GET", EMAILS_PATH + query).json
            seen.extend(page["emails"])
            pages += 1
            cursor = page["cursor"]
            if cursor is None:
                break
    # THEN three pages cover all 51 emails once each, newest first, seeds before bulk mail
    assert pages == 3
    assert len(seen) == 51
    assert len({e["id"] for e in seen}) == 51
    stamps = [e["received_at"] for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert {e["id"] for e in seen[:6]} == set(SEED_EMAIL_IDS)
    assert seen[-1]["id"] == "em_bulk_0001"


def test_default_page_size_is_20_and_seed_bulk_adds_more(standin: StandIn) -> None:
    # GIVEN 30 more emails added at run time
    ids = standin.seed_bulk(AGENT_MAILBOX_ID, 30)
    # WHEN the inbox is listed without a limit
    page = call(standin, "GET", EMAILS_PATH).json
    # THEN 20 come back with a cursor, and the generated ids are sequential
    assert ids[0] == "em_bulk_0001"
    assert ids[-1] == "em_bulk_0030"
    assert len(page["emails"]) == 20
    assert isinstance(page["cursor"], str)


@pytest.mark.parametrize(
    ("query", "error_part"),
    [
        ("?limit=101", "'limit'"),
        ("?limit=0", "'limit'"),
        ("?limit=ten", "'limit'"),
        ("?cursor=%25%25garbage", "'cursor'"),
        ("?direction=sideways", "'direction'"),
        ("?status=pending_scan", "'status'"),
        ("?status=sent", "'status'"),
        ("?has_attachments=yes", "'has_attachments'"),
        ("?date_after=yesterday", "'date_after'"),
        ("?since_id=em_missing", "'since_id'"),
    ],
)
def test_bad_list_parameters_are_400(standin: StandIn, query: str, error_part: str) -> None:
    # GIVEN a list query with an invalid parameter (a status outside the spec's enum, a limit outside 1..100)
    # WHEN it is sent
    reply = call(standin, "GET", EMAILS_PATH + query)
    # THEN 400 names the parameter
    assert reply.status == 400
    assert error_part in reply.json["error"]


@pytest.mark.parametrize("status", LIST_STATUSES)
def test_every_status_of_the_enum_is_a_valid_filter(standin: StandIn, status: str) -> None:
    # GIVEN one value of the spec's status enum
    # WHEN the list is filtered by it
    reply = call(standin, "GET", f"{EMAILS_PATH}?status={status}")
    # THEN it is accepted, and every listed email has that status
    assert reply.status == 200
    assert all(e["status"] == status for e in reply.json["emails"])


def test_sender_subject_date_attachment_and_since_id_filters(standin: StandIn) -> None:
    # GIVEN the seeded inbox
    def ids(query: str) -> set[str]:
        return {e["id"] for e in call(standin, "GET", EMAILS_PATH + query).json["emails"]}

    # WHEN it is filtered by each of the spec's other filters
    # THEN each keeps only what it names
    assert ids(f"?sender={CUSTOMER.upper()}") == {INVOICE_EMAIL_ID, INVOICE_FOLLOWUP_EMAIL_ID}
    assert ids("?subject_contains=q3%20PLANNING") == {MEETING_EMAIL_ID, "em_seed_meeting_update"}
    assert ids("?has_attachments=true") == {INVOICE_FOLLOWUP_EMAIL_ID}
    assert len(ids("?has_attachments=false")) == len(SEED_EMAIL_IDS) - 1
    assert ids("?date_after=2025-06-03T09:00:00Z") == {INJECTION_EMAIL_ID, INVOICE_FOLLOWUP_EMAIL_ID}
    assert ids("?date_before=2025-06-02T09:00:00Z") == {INVOICE_EMAIL_ID}
    assert ids(f"?since_id={INJECTION_EMAIL_ID}") == {INVOICE_FOLLOWUP_EMAIL_ID}


def test_limit_100_is_allowed(standin: StandIn) -> None:
    # GIVEN the maximum page size
    # WHEN the inbox is listed with it
    reply = call(standin, "GET", EMAILS_PATH + "?limit=100")
    # THEN it is accepted
    assert reply.status == 200
    assert len(reply.json["emails"]) == len(SEED_EMAIL_IDS)


def test_direction_and_status_filters(standin: StandIn) -> None:
    # GIVEN one queued outbound email (its scan over) next to the seeded inbox
    answer = {"id": queued(standin)}
    # WHEN the list is filtered
    out = call(standin, "GET", EMAILS_PATH + "?direction=outbound").json["emails"]
    inbound = call(standin, "GET", EMAILS_PATH + "?direction=inbound").json["emails"]
    pending = call(standin, "GET", EMAILS_PATH + "?status=pending_send_approval&direction=outbound").json
    unread = call(standin, "GET", EMAILS_PATH + "?status=unread").json["emails"]
    # THEN each filter keeps only what it names
    assert [e["id"] for e in out] == [answer["id"]]
    assert len(inbound) == len(SEED_EMAIL_IDS)
    assert [e["id"] for e in pending["emails"]] == [answer["id"]]
    assert {e["id"] for e in unread} == {
        INVOICE_FOLLOWUP_EMAIL_ID,
        MEETING_EMAIL_ID,
        "em_seed_meeting_update",
        INJECTION_EMAIL_ID,
    }


def test_summary_and_full_email_shapes(standin: StandIn) -> None:
    # GIVEN the follow-up email with an attachment
    # WHEN it is listed and read
    summary = next(e for e in call(standin, "GET", EMAILS_PATH).json["emails"] if e["id"] == INVOICE_FOLLOWUP_EMAIL_ID)
    full = call(standin, "GET", f"{EMAILS_PATH}/{INVOICE_FOLLOWUP_EMAIL_ID}").json
    # THEN the summary has exactly the spec's EmailSummary fields (no body, no cc, no snippet)
    assert set(summary) == SUMMARY_FIELDS
    assert summary["from"] == CUSTOMER
    assert summary["has_attachments"] is True
    # AND the full email has the spec's EmailResponse fields: body under markdown, attachment metadata
    assert set(full) == {
        "id",
        "from",
        "to",
        "cc",
        "subject",
        "received_at",
        "thread_id",
        "markdown",
        "status",
        "has_attachments",
        "attachments",
        "delivered_at",
        "bounced_at",
        "bounce_type",
        "approved_at",
        "approved_by",
        "spam_score",
        "spam_verdict",
        "tags",
    }
    assert full["markdown"].startswith("Hi again,\n\nFollowing up")
    assert full["attachments"] == [
        {"name": "seat-change-confirmation.pdf", "size": 48213, "content_type": "application/pdf"},
        {"name": INVOICE_CSV_NAME, "size": len(INVOICE_CSV), "content_type": "text/csv"},
    ]


def test_reading_an_unread_email_marks_it_read(standin: StandIn) -> None:
    # GIVEN an unread seeded email
    assert standin.email(MEETING_EMAIL_ID).status == "unread"
    # WHEN the agent reads it
    full = call(standin, "GET", f"{EMAILS_PATH}/{MEETING_EMAIL_ID}").json
    # THEN it is read from now on, in the answer, the store and the list
    assert full["status"] == "read"
    assert standin.email(MEETING_EMAIL_ID).status == "read"
    unread = call(standin, "GET", EMAILS_PATH + "?status=unread").json["emails"]
    assert MEETING_EMAIL_ID not in {e["id"] for e in unread}


def test_reading_an_outbound_email_keeps_its_status(standin: StandIn) -> None:
    # GIVEN a queued outbound email
    email_id = queued(standin)
    # WHEN it is read
    full = call(standin, "GET", f"{EMAILS_PATH}/{email_id}").json
    # THEN its status is unchanged
    assert full["status"] == "pending_send_approval"


# ── cancel and the human's decisions ─────────────────────────────────────────


def test_cancel_twice_is_200_and_after_approval_409(standin: StandIn) -> None:
    # GIVEN two emails waiting for approval
    first = queued(standin)
    second = queued(standin)
    cancel = f"{EMAILS_PATH}/{{}}/cancel"
    # WHEN the first is cancelled twice, and the second is approved and then cancelled
    once = call(standin, "POST", cancel.format(first))
    twice = call(standin, "POST", cancel.format(first))
    standin.approve(second)
    late = call(standin, "POST", cancel.format(second))
    # THEN 200 cancelled, 200 again, and 409 for the sent one
    assert (once.status, once.json) == (200, {"id": first, "status": "cancelled"})
    assert (twice.status, twice.json) == (200, {"id": first, "status": "cancelled"})
    assert late.status == 409
    assert late.json == {"error": "Email not in a cancellable state (status: sent)"}
    assert standin.email(second).status == "sent"


def test_an_email_still_in_its_scan_is_not_cancellable(standin: StandIn) -> None:
    # GIVEN an email still in pending_scan (the spec cancels pending_send_approval or pending_inbound_approval)
    email_id = send(standin).json["id"]
    # WHEN it is cancelled during the scan, and again once the scan is over
    early = call(standin, "POST", f"{EMAILS_PATH}/{email_id}/cancel")
    standin.finish_scans()
    late = call(standin, "POST", f"{EMAILS_PATH}/{email_id}/cancel")
    # THEN the first is 409 and the second cancels it
    assert early.status == 409
    assert (late.status, late.json["status"]) == (200, "cancelled")


def test_cancel_inbound_is_409_and_unknown_is_404(standin: StandIn) -> None:
    # GIVEN a seeded inbound email and an unknown id
    # WHEN each is cancelled
    inbound = call(standin, "POST", f"{EMAILS_PATH}/{INVOICE_EMAIL_ID}/cancel")
    unknown = call(standin, "POST", f"{EMAILS_PATH}/em_missing/cancel")
    # THEN 409 and 404
    assert inbound.status == 409
    assert unknown.status == 404


def test_approve_delivers_into_the_local_colleague_mailbox(standin: StandIn) -> None:
    # GIVEN an email to the colleague (and an outside cc): not pending during its scan, pending after it
    answer = send(standin, to=[COLLEAGUE_ADDRESS], cc=[CUSTOMER], subject="Thursday 10:00 works").json
    assert call(standin, "GET", "/v1/oversight/pending", key="oversight").json == {"emails": []}
    standin.finish_scans()
    assert standin.emails(COLLEAGUE_MAILBOX_ID) == []
    pending = call(standin, "GET", "/v1/oversight/pending", key="oversight").json["emails"]
    assert [(p["id"], p["mailbox_id"], p["status"]) for p in pending] == [
        (answer["id"], AGENT_MAILBOX_ID, "pending_send_approval")
    ]
    assert set(pending[0]) == {
        "id",
        "mailbox_id",
        "direction",
        "from",
        "to",
        "subject",
        "body_markdown",
        "status",
        "received_at",
    }
    # WHEN the human approves over HTTP
    decided = call(
        standin, "POST", "/v1/oversight/decide", {"email_id": answer["id"], "action": "approve"}, key="oversight"
    )
    # THEN it is approved_and_sent, nothing is pending, and the colleague has one unread copy in the same thread
    assert (decided.status, decided.json["status"]) == (200, "approved_and_sent")
    assert set(decided.json) == {"status", "postmark_message_id"}
    assert call(standin, "GET", "/v1/oversight/pending", key="oversight").json == {"emails": []}
    sent = call(standin, "GET", f"{EMAILS_PATH}/{answer['id']}").json
    assert (sent["status"], sent["approved_by"]) == ("sent", "oversight")
    assert sent["delivered_at"] is not None
    (copy,) = standin.emails(COLLEAGUE_MAILBOX_ID)
    assert copy.id != answer["id"]
    assert (copy.status, copy.direction, copy.thread_id) == ("unread", "inbound", answer["thread_id"])
    assert (copy.sender, copy.subject) == (AGENT_ADDRESS, "Thursday 10:00 works")
    listed = call(standin, "GET", f"/v1/mailboxes/{COLLEAGUE_MAILBOX_ID}/emails").json["emails"]
    assert [e["id"] for e in listed] == [copy.id]


def test_reject_keeps_the_reason_and_delivers_nothing(standin: StandIn) -> None:
    # GIVEN two emails to the colleague waiting for approval
    first = queued(standin, to=[COLLEAGUE_ADDRESS])
    second = send(standin, to=[COLLEAGUE_ADDRESS]).json["id"]
    # WHEN the human rejects one over HTTP and the other in Python (whose scan the shortcut ends first)
    over_http = call(standin, "POST", "/v1/oversight/decide", {"email_id": first, "action": "reject"}, key="oversight")
    rejected = standin.reject(second, "wrong recipient")
    # THEN both are rejected, the reason is kept, and nothing is delivered
    assert (over_http.status, over_http.json) == (200, {"status": "rejected"})
    assert rejected.status == "rejected"
    assert standin.email(second).rejection_reason == "wrong recipient"
    assert standin.emails(COLLEAGUE_MAILBOX_ID) == []


def test_deciding_twice_or_an_unknown_email_is_404_and_bad_action_400(standin: StandIn) -> None:
    # GIVEN an approved email
    email_id = send(standin).json["id"]
    standin.approve(email_id)
    # WHEN it is decided again, over HTTP and in Python, an unknown id is decided, and an unknown action is sent
    again = call(standin, "POST", "/v1/oversight/decide", {"email_id": email_id, "action": "reject"}, key="oversight")
    unknown = call(
        standin, "POST", "/v1/oversight/decide", {"email_id": "em_nope", "action": "approve"}, key="oversight"
    )
    bad = call(standin, "POST", "/v1/oversight/decide", {"email_id": email_id, "action": "maybe"}, key="oversight")
    # THEN 404 "Email not found" (the one failure the spec gives), a NotFoundError, and 400
    assert (again.status, unknown.status) == (404, 404)
    assert again.json["error"].startswith("Email not found")
    with pytest.raises(NotFoundError):
        standin.reject(email_id)
    assert bad.status == 400


# ── idempotency ──────────────────────────────────────────────────────────────


def test_same_idempotency_key_returns_the_original_and_creates_nothing(standin: StandIn) -> None:
    # GIVEN a send with an idempotency key
    first = send(standin, idempotency_key="idem-1")
    # WHEN the same key is sent again (even with another body), on send and on reply
    second = send(standin, idempotency_key="idem-1", subject="changed")
    via_reply = call(
        standin,
        "POST",
        f"/v1/mailboxes/{AGENT_MAILBOX_ID}/reply/{MEETING_EMAIL_ID}",
        {"markdown": "x", "idempotency_key": "idem-1"},
    )
    # THEN the first is 202, the repeats are 200 already_sent naming the original, and one email exists
    assert first.status == 202
    assert second.status == via_reply.status == 200
    assert second.json == via_reply.json == {"id": first.json["id"], "status": "already_sent", "idempotent": True}
    assert len(outbound(standin)) == 1


def test_idempotency_key_expires_after_24_hours(standin: StandIn, clock: FakeClock) -> None:
    # GIVEN a send with a key, and the clock just under 24 hours later
    first = send(standin, idempotency_key="idem-day").json
    clock.advance(24 * 3600 - 1)
    assert send(standin, idempotency_key="idem-day").json["id"] == first["id"]
    # WHEN the clock passes 24 hours and the key is used again
    clock.advance(2)
    later = send(standin, idempotency_key="idem-day").json
    # THEN a new email is created
    assert later["id"] != first["id"]
    assert len(outbound(standin)) == 2


def test_concurrent_duplicates_create_one_email(standin: StandIn) -> None:
    # GIVEN eight clients ready to send with the same key at once
    barrier = threading.Barrier(8)
    answers: list[Reply] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        reply = send(standin, idempotency_key="idem-race")
        with lock:
            answers.append(reply)

    # WHEN they all send
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    # THEN one got 202, the others 200 already_sent, all with the same id, and one email exists
    assert len(answers) == 8
    assert sorted(a.status for a in answers) == [200] * 7 + [202]
    assert len({a.json["id"] for a in answers}) == 1
    assert len(outbound(standin)) == 1


# ── rate limit ───────────────────────────────────────────────────────────────


def test_rate_limit_is_429_with_retry_after_per_key(clock: FakeClock) -> None:
    # GIVEN a limit of 3 requests a minute
    with StandIn(clock=clock, rate_limit_per_minute=3) as standin:
        allowed = [call(standin, "GET", EMAILS_PATH).status for _ in range(3)]
        # WHEN a fourth request comes 10 seconds later
        clock.advance(10)
        limited = call(standin, "GET", EMAILS_PATH)
        other_key = call(standin, "GET", "/v1/oversight/pending", key="oversight")
        # THEN it is 429 with a whole-second Retry-After; another key has its own budget
        assert allowed == [200, 200, 200]
        assert limited.status == 429
        assert limited.json == {"error": "rate limit exceeded"}
        assert limited.headers["retry-after"] == "50"
        assert other_key.status == 200
        # AND once the minute has passed the key works again
        clock.advance(51)
        assert call(standin, "GET", EMAILS_PATH).status == 200


# ── fault injection ──────────────────────────────────────────────────────────


def test_status_fault_answers_raw_then_normal(standin: StandIn) -> None:
    # GIVEN an HTML 502 queued for two requests on the send path
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    standin.inject_fault(Faults.status(502, html, content_type="text/html"), times=2, path_contains="/send")
    # WHEN a list (not matching) and three sends are made
    listed = call(standin, "GET", EMAILS_PATH)
    replies = [send(standin) for _ in range(3)]
    # THEN only the next two sends get the raw page, and only the third creates an email
    assert listed.status == 200
    assert [r.status for r in replies] == [502, 502, 202]
    assert replies[0].body.decode() == html
    assert replies[0].headers["content-type"] == "text/html"
    assert len(outbound(standin)) == 1


def test_status_fault_429_with_retry_after_and_malformed_json(standin: StandIn) -> None:
    # GIVEN a 429 with Retry-After, then a 200 whose body is not JSON
    standin.inject_fault(Faults.status(429, headers={"Retry-After": "7"}))
    standin.inject_fault(Faults.status(200, b'{"emails": [', headers={"Content-Type": "application/json"}))
    # WHEN two requests are made
    limited = call(standin, "GET", EMAILS_PATH)
    broken = call(standin, "GET", EMAILS_PATH)
    # THEN the first is 429 with the header and the default error body, the second is truncated JSON
    assert (limited.status, limited.headers["retry-after"]) == (429, "7")
    assert limited.json == {"error": "injected fault: HTTP 429"}
    assert broken.status == 200
    with pytest.raises(json.JSONDecodeError):
        _ = broken.json


def test_delay_fault_times_out_the_client_without_blocking_others(standin: StandIn) -> None:
    # GIVEN a 10-second delay on the next send (far longer than anything a loaded machine adds)
    standin.inject_fault(Faults.delay(10.0), path_contains="/send")
    # WHEN a client with a 0.2 s timeout sends, while another client lists
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(standin, "POST", SEND_PATH, {"to": [CUSTOMER], "subject": "s", "markdown": "m"}, timeout=0.2)
    listed = call(standin, "GET", EMAILS_PATH, timeout=1.0)
    # THEN the sender timed out without waiting out the delay, the other was served, nothing was created yet
    assert time.monotonic() - started < 5.0
    assert listed.status == 200
    assert outbound(standin) == []


def test_delay_fault_then_answers_normally(standin: StandIn) -> None:
    # GIVEN a 0.3 s delay
    standin.inject_fault(Faults.delay(0.3))
    # WHEN a patient client lists
    started = time.monotonic()
    reply = call(standin, "GET", EMAILS_PATH, timeout=3)
    # THEN the normal answer arrives after the delay
    assert time.monotonic() - started >= 0.3
    assert reply.status == 200
    assert len(reply.json["emails"]) == len(SEED_EMAIL_IDS)


def test_accept_then_stall_creates_the_email_but_loses_the_answer(standin: StandIn) -> None:
    # GIVEN the send will be processed and then stall for 3 s
    standin.inject_fault(Faults.accept_then_stall(3.0), path_contains="/send")
    # WHEN a client with a 0.3 s timeout sends with an idempotency key
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(
            standin,
            "POST",
            SEND_PATH,
            {"to": [CUSTOMER], "subject": "s", "markdown": "m", "idempotency_key": "lost-1"},
            timeout=0.3,
        )
    # THEN the email exists, and a retry with the same key returns it instead of a second one
    (created,) = outbound(standin)
    retry = send(standin, idempotency_key="lost-1")
    assert (retry.status, retry.json["id"], retry.json["status"]) == (200, created.id, "already_sent")
    assert len(outbound(standin)) == 1


def test_slow_drip_sends_headers_then_the_body_slowly(standin: StandIn) -> None:
    # GIVEN the next list drips its body over 3 s, 64 bytes at a time
    standin.inject_fault(Faults.slow_drip(3.0, 64))
    request = urllib.request.Request(
        standin.base_url + EMAILS_PATH, headers={"Authorization": f"Bearer {standin.agent_key}"}
    )
    # WHEN a client with a 0.4 s per-read timeout reads it
    started = time.monotonic()
    with OPENER.open(request, timeout=0.4) as response:
        headers_after = time.monotonic() - started
        body = response.read()
    total = time.monotonic() - started
    # THEN the headers come fast, no single read times out, the whole takes the full time, and the JSON is intact
    assert headers_after < 1.5  # well before the body's 3 s, however busy the machine
    assert total >= 2.9
    assert {e["id"] for e in json.loads(body)["emails"]} == set(SEED_EMAIL_IDS)


@pytest.mark.parametrize("declare_length", [True, False])
def test_oversized_answer_is_huge_valid_json(standin: StandIn, declare_length: bool) -> None:
    # GIVEN a 3 MB answer queued
    standin.inject_fault(Faults.oversized(3_000_000, declare_length=declare_length))
    # WHEN the inbox is listed
    reply = call(standin, "GET", EMAILS_PATH)
    # THEN it is a 200 of exactly that size that parses as JSON
    assert reply.status == 200
    assert len(reply.body) == 3_000_000
    assert ("content-length" in reply.headers) is declare_length
    assert reply.json["emails"] == []


def test_close_connection_drops_without_an_answer(standin: StandIn) -> None:
    # GIVEN the next request will be dropped
    standin.inject_fault(Faults.close_connection())
    # WHEN a client lists
    # THEN the connection ends without a response, and the next request is normal
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        call(standin, "GET", EMAILS_PATH)
    assert call(standin, "GET", EMAILS_PATH).status == 200
    assert len(standin.requests) == 2


def test_stop_returns_promptly_while_a_handler_sleeps(clock: FakeClock) -> None:
    # GIVEN a request stuck in a 30 s delay
    standin = StandIn(clock=clock).start()
    standin.inject_fault(Faults.delay(30))
    errors: list[BaseException] = []

    def stuck() -> None:
        try:
            call(standin, "GET", EMAILS_PATH, timeout=10)
        except (OSError, urllib.error.URLError) as exc:
            errors.append(exc)

    client = threading.Thread(target=stuck)
    client.start()
    deadline = time.monotonic() + 2
    while not standin.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    # WHEN the stand-in is stopped
    started = time.monotonic()
    standin.stop()
    stopped_in = time.monotonic() - started
    client.join(3)
    # THEN stop returns without waiting out the 30 s delay, and the stuck client gets an error instead of hanging
    assert stopped_in < 10.0
    assert not client.is_alive()
    assert len(errors) == 1


# ── CLI ──────────────────────────────────────────────────────────────────────


def test_cli_pending_approve_and_reject(standin: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN two emails waiting for approval
    to_approve = queued(standin, to=[COLLEAGUE_ADDRESS], subject="Agenda")
    to_reject = queued(standin)
    # WHEN the human lists, approves one and rejects the other with the CLI
    listed = main(["pending", "--url", standin.base_url])
    pending_out = capsys.readouterr().out
    approved = main(["approve", to_approve, "--url", standin.base_url])
    approve_out = capsys.readouterr().out
    rejected = main(["reject", to_reject, "--reason", "not now", "--url", standin.base_url])
    reject_out = capsys.readouterr().out
    # THEN each exits 0, the stand-in's state changed, and the calls used the oversight key
    assert (listed, approved, rejected) == (0, 0, 0)
    assert to_approve in pending_out
    assert to_reject in pending_out
    assert "We are on it." in pending_out
    assert approve_out.strip() == f"approved {to_approve}: status approved_and_sent"
    assert reject_out.strip() == f"rejected {to_reject}: status rejected"
    assert standin.email(to_approve).status == "sent"
    assert standin.email(to_reject).rejection_reason == "not now"
    assert len(standin.emails(COLLEAGUE_MAILBOX_ID)) == 1
    decide_calls = [r for r in standin.requests if r.path == "/v1/oversight/decide"]
    assert {r.header("authorization") for r in decide_calls} == {f"Bearer {DEFAULT_OVERSIGHT_KEY}"}


def test_cli_uses_sandbox_port_and_reports_errors_in_one_line(
    standin: StandIn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SANDBOX_PORT names the running stand-in, and an email that is already approved
    monkeypatch.setenv("SANDBOX_PORT", str(standin.port))
    email_id = send(standin).json["id"]
    standin.approve(email_id)
    # WHEN the human approves it again without --url
    code = main(["approve", email_id])
    err = capsys.readouterr().err
    # THEN the CLI exits 1 with one line carrying the status and the server's message
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("error: HTTP 404")
    assert "waits for a decision" in err


def test_cli_unreachable_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN nothing listens on the URL (port 9 on loopback: discard, normally closed)
    # WHEN the human lists pending emails
    code = main(["pending", "--url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    # THEN exit 1 with a single explanatory line
    assert code == 1
    assert err.count("\n") == 1
    assert "cannot reach the stand-in" in err


def test_cli_serve_on_a_busy_port_exits_2(standin: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a port already taken by a running stand-in
    # WHEN serve is asked for the same port
    code = main(["serve", "--port", str(standin.port)])
    # THEN it exits 2 with the hint
    assert code == 2
    assert capsys.readouterr().err.strip() == f"port {standin.port} busy: pass --port or set SANDBOX_PORT"


def test_cli_help_says_it_is_a_stand_in(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the CLI
    # WHEN --help is asked for
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    # THEN it exits 0 and says what it is
    assert exited.value.code == 0
    assert "development stand-in, not MultiMail" in capsys.readouterr().out


def test_cli_serve_runs_in_the_foreground_until_sigterm() -> None:
    # GIVEN `serve --port 0` started as a subprocess
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.multimail_standin", "serve", "--port", "0", "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(2)]
        base_url = banner[1].split()[-1]
        # WHEN a client lists the mailboxes, then the process gets SIGTERM
        request = urllib.request.Request(
            base_url + "/v1/mailboxes", headers={"Authorization": f"Bearer {DEFAULT_AGENT_KEY}"}
        )
        with OPENER.open(request, timeout=5) as response:
            mailboxes = json.loads(response.read())["mailboxes"]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    # THEN it announced itself as a stand-in, served the request, and stopped cleanly
    assert "development stand-in, not MultiMail" in banner[0]
    assert base_url.startswith("http://127.0.0.1:")
    assert [m["id"] for m in mailboxes] == [AGENT_MAILBOX_ID, COLLEAGUE_MAILBOX_ID]
    assert code == 0


def test_a_gated_all_mailbox_holds_incoming_mail_until_a_person_releases_it(standin: StandIn) -> None:
    # GIVEN the colleague's mailbox in gated_all, and an autonomous agent mailbox that writes to it
    standin.set_oversight_mode(COLLEAGUE_MAILBOX_ID, "gated_all")
    standin.set_oversight_mode(AGENT_MAILBOX_ID, "autonomous")
    # WHEN the agent's email is sent and lands there
    answer = send(standin, to=[COLLEAGUE_ADDRESS]).json
    standin.finish_scans()
    # THEN it waits for release as pending_inbound_approval, and a person's decision releases it
    (held,) = standin.emails(COLLEAGUE_MAILBOX_ID)
    assert (held.thread_id, held.status) == (answer["thread_id"], "pending_inbound_approval")
    decided = call(
        standin, "POST", "/v1/oversight/decide", key="oversight", body={"email_id": held.id, "action": "approve"}
    )
    assert decided.status == 200
    assert standin.email(held.id).status == "unread"


def test_a_soft_deleted_mailbox_is_listed_inactive_and_cannot_be_used(standin: StandIn) -> None:
    # GIVEN the colleague's mailbox soft-deleted
    standin.soft_delete_mailbox(COLLEAGUE_MAILBOX_ID)
    # WHEN the mailboxes are listed and the deleted one is read
    listed = {m["id"]: m for m in call(standin, "GET", "/v1/mailboxes").json["mailboxes"]}
    read = call(standin, "GET", f"/v1/mailboxes/{COLLEAGUE_MAILBOX_ID}/emails")
    # THEN it is listed with is_active 0 (the spec's soft delete), with the additive fields, and is not found
    assert listed[COLLEAGUE_MAILBOX_ID]["is_active"] == 0
    assert listed[AGENT_MAILBOX_ID]["is_active"] == 1
    assert {"mcp_configured", "default_gate_timing"} <= set(listed[AGENT_MAILBOX_ID])
    assert read.status == 404


@pytest.mark.parametrize("mode", ["read_only", "gated_all", "gated_send", "monitored", "autonomous"])
def test_the_agent_mailbox_starts_in_the_mode_asked_for(mode: str) -> None:
    with StandIn(oversight_mode=mode) as server:
        (agent,) = [m for m in call(server, "GET", "/v1/mailboxes").json["mailboxes"] if m["id"] == AGENT_MAILBOX_ID]
        assert agent["oversight_mode"] == mode
