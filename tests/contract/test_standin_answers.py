"""Every answer the stand-in gives, in a scenario that reaches every endpoint and every documented status,
validated against our contract with openapi-core (see tests/contract/contract.py for why openapi-core).

The last test checks the coverage itself: the set of (method, path, status) the scenario met equals the set
the contract documents, so a status added to the contract without a case here fails, and so does a case
the stand-in answers with a status the contract does not document (openapi-core refuses it).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from devtools.multimail_standin import (
    AGENT_MAILBOX_ID,
    COLLEAGUE_ADDRESS,
    CONTENT_FILTER_TRIGGER,
    INVOICE_EMAIL_ID,
    INVOICE_FOLLOWUP_EMAIL_ID,
    MEETING_EMAIL_ID,
    Mailbox,
    StandIn,
)
from tests.contract.contract import check_response, documented_statuses, mock_request, template_of

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
BASE = f"/v1/mailboxes/{AGENT_MAILBOX_ID}"
READER_KEY = "mm_live_contract_reader"  # read only: no send, no oversight
WRITER_KEY = "mm_live_contract_writer"  # send only: no read
WRONG_KEY = "mm_live_contract_unknown"
CUSTOMER = "dana.whitfield@northwind-traders.example"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    json: Any


class ContractClient:
    """Calls the stand-in over loopback and checks each answer against the contract before returning it."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        key: str = "agent",
    ) -> Answer:
        token = {"agent": self.standin.agent_key, "oversight": self.standin.oversight_key}.get(key, key)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        url = self.standin.base_url + path + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with OPENER.open(request, timeout=5) as response:
                status, answer_headers, raw = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            status, answer_headers, raw = exc.code, dict(exc.headers.items()), exc.read()
            exc.close()
        lowered = {name.lower(): value for name, value in answer_headers.items()}
        # THEN (for every call) the answer is one the contract documents, field for field
        check_response(mock_request(method, path, query=query, headers=headers, body=data), status, lowered, raw)
        self.seen.add((method, template_of(method, path), status))
        is_json = lowered.get("content-type", "application/json").startswith("application/json")
        return Answer(status, lowered, json.loads(raw) if is_json else raw)  # an attachment is its bytes


@pytest.fixture(scope="module")
def scenario() -> Iterator[ContractClient]:
    # A long scan that the scenario ends explicitly, so pending_scan shows up in lists and reads.
    with StandIn(scan_seconds=3600) as standin:
        standin.add_key(READER_KEY, {"read"})
        standin.add_key(WRITER_KEY, {"send"})
        yield ContractClient(standin)


def send_body(**overrides: Any) -> dict[str, Any]:
    return {"to": [CUSTOMER], "subject": "Your invoice", "markdown": "We are on it.", **overrides}


def test_mailboxes_list_read_and_thread(scenario: ContractClient) -> None:
    # GIVEN the seeded stand-in
    api = scenario
    # WHEN the read endpoints are called with good and bad input
    first_page = api("GET", f"{BASE}/emails", query={"limit": "2"})
    # THEN each answer has the expected status (and every answer fits the contract, checked in ContractClient)
    assert api("GET", "/v1/mailboxes").status == 200
    assert first_page.status == 200
    assert api("GET", f"{BASE}/emails", query={"limit": "2", "cursor": first_page.json["cursor"]}).status == 200
    assert api("GET", f"{BASE}/emails", query={"status": "unread", "direction": "inbound"}).status == 200
    assert api("GET", f"{BASE}/emails", query={"has_attachments": "true", "subject_contains": "invoice"}).status == 200
    assert api("GET", f"{BASE}/emails", query={"status": "pending_scan"}).status == 400
    assert api("GET", f"{BASE}/emails", query={"status": "sent"}).status == 400
    assert api("GET", f"{BASE}/emails", query={"limit": "101"}).status == 400
    assert api("GET", f"{BASE}/emails", query={"limit": "0"}).status == 400
    assert api("GET", "/v1/mailboxes/mbx_nope/emails").status == 404
    assert api("GET", f"{BASE}/emails/{INVOICE_FOLLOWUP_EMAIL_ID}").json["attachments"][0]["size"] == 48213
    assert api("GET", f"{BASE}/emails/em_nope").status == 404
    assert api("GET", f"{BASE}/threads/th_seed_invoice").json["message_count"] == 2
    assert api("GET", f"{BASE}/threads/th_nope").status == 404
    # An attachment's bytes, with its own type; the name is one encoded segment, matched exactly
    csv = api("GET", f"{BASE}/emails/{INVOICE_FOLLOWUP_EMAIL_ID}/attachments/INV-2025-0412%20lines.csv")
    assert (csv.status, csv.headers["content-type"]) == (200, "text/csv")
    pdf = api("GET", f"{BASE}/emails/{INVOICE_FOLLOWUP_EMAIL_ID}/attachments/seat-change-confirmation.pdf")
    assert (pdf.status, pdf.headers["content-type"]) == (200, "application/pdf")
    assert api("GET", f"{BASE}/emails/{INVOICE_FOLLOWUP_EMAIL_ID}/attachments/nope.csv").status == 404


def test_send_statuses(scenario: ContractClient) -> None:
    api = scenario
    attachment = {"name": "quote.txt", "content_base64": "aGVsbG8=", "content_type": "text/plain"}
    # GIVEN a valid send with cc, an attachment and an idempotency key
    # WHEN it is sent, repeated, and sent wrong in each documented way
    accepted = api(
        "POST", f"{BASE}/send", send_body(cc=[COLLEAGUE_ADDRESS], attachments=[attachment], idempotency_key="c-1")
    )
    repeated = api("POST", f"{BASE}/send", send_body(idempotency_key="c-1"))
    invalid = api("POST", f"{BASE}/send", {"to": [CUSTOMER], "markdown": "no subject"})
    bad_address = api("POST", f"{BASE}/send", send_body(to=["not an address"]))
    filtered = api("POST", f"{BASE}/send", send_body(markdown=f"hello {CONTENT_FILTER_TRIGGER}"))
    unknown_mailbox = api("POST", "/v1/mailboxes/mbx_nope/send", send_body())
    # THEN 202 pending_scan, 200 already_sent, 400, 400, 400 content filtered, 404
    assert (accepted.status, accepted.json["status"]) == (202, "pending_scan")
    assert (repeated.status, repeated.json) == (
        200,
        {"id": accepted.json["id"], "status": "already_sent", "idempotent": True},
    )
    assert (invalid.status, bad_address.status, filtered.status) == (400, 400, 400)
    assert filtered.json["error"].startswith("Content filtered")
    assert unknown_mailbox.status == 404
    # AND during the scan the email reads and lists as pending_scan, which the contract allows in answers
    assert api("GET", f"{BASE}/emails/{accepted.json['id']}").json["status"] == "pending_scan"
    outbound = api("GET", f"{BASE}/emails", query={"direction": "outbound"}).json["emails"]
    assert [e["status"] for e in outbound] == ["pending_scan"]


def test_reply_statuses(scenario: ContractClient) -> None:
    api = scenario
    path = f"{BASE}/reply/{MEETING_EMAIL_ID}"
    # GIVEN a reply with an idempotency key
    # WHEN it is sent, retried with the key, repeated with another key, and sent wrong
    accepted = api("POST", path, {"markdown": "Thursday works.", "idempotency_key": "c-2"})
    retried = api("POST", path, {"markdown": "Thursday works.", "idempotency_key": "c-2"})
    duplicate = api("POST", path, {"markdown": "Thursday works.", "idempotency_key": "c-3"})
    invalid = api("POST", path, {"cc": [CUSTOMER]})
    filtered = api("POST", path, {"markdown": CONTENT_FILTER_TRIGGER})
    unknown = api("POST", f"{BASE}/reply/em_nope", {"markdown": "x"})
    # THEN 202, 200 already_sent, 409 duplicate reply, 400, 400, 404
    assert (accepted.status, retried.status, duplicate.status) == (202, 200, 409)
    assert (invalid.status, filtered.status, unknown.status) == (400, 400, 404)
    assert duplicate.json["error"].startswith("Duplicate reply detected")


def test_read_only_mailbox_is_403_on_send_and_reply(scenario: ContractClient) -> None:
    api = scenario
    # GIVEN the agent's mailbox in read_only mode
    api.standin.set_oversight_mode(AGENT_MAILBOX_ID, "read_only")
    try:
        # WHEN the agent sends and replies
        sent = api("POST", f"{BASE}/send", send_body())
        replied = api("POST", f"{BASE}/reply/{MEETING_EMAIL_ID}", {"markdown": "read only?"})
    finally:
        api.standin.set_oversight_mode(AGENT_MAILBOX_ID, "gated_send")
    # THEN both are 403
    assert (sent.status, replied.status) == (403, 403)


def test_oversight_cancel_and_decide(scenario: ContractClient) -> None:
    api = scenario
    # GIVEN three emails whose scan is over: one to approve, one to reject, one to cancel
    ids = [api("POST", f"{BASE}/send", send_body(subject=f"Case {n}")).json["id"] for n in range(3)]
    api.standin.finish_scans()
    to_approve, to_reject, to_cancel = ids
    # WHEN the human lists and decides, and the agent cancels
    pending = api("GET", "/v1/oversight/pending", key="oversight")
    approved = api("POST", "/v1/oversight/decide", {"email_id": to_approve, "action": "approve"}, key="oversight")
    again = api("POST", "/v1/oversight/decide", {"email_id": to_approve, "action": "approve"}, key="oversight")
    bad = api("POST", "/v1/oversight/decide", {"email_id": to_reject, "action": "maybe"}, key="oversight")
    rejected = api("POST", "/v1/oversight/decide", {"email_id": to_reject, "action": "reject"}, key="oversight")
    cancelled = api("POST", f"{BASE}/emails/{to_cancel}/cancel")
    cancelled_again = api("POST", f"{BASE}/emails/{to_cancel}/cancel")
    not_cancellable = api("POST", f"{BASE}/emails/{to_approve}/cancel")
    inbound = api("POST", f"{BASE}/emails/{INVOICE_EMAIL_ID}/cancel")
    unknown = api("POST", f"{BASE}/emails/em_nope/cancel")
    # THEN the statuses are the spec's, and the approved email reads as sent
    assert {e["id"] for e in pending.json["emails"]} >= set(ids)
    assert (approved.status, approved.json["status"]) == (200, "approved_and_sent")
    assert (again.status, bad.status) == (404, 400)
    assert rejected.json == {"status": "rejected"}
    assert cancelled.json == cancelled_again.json == {"id": to_cancel, "status": "cancelled"}
    assert (not_cancellable.status, inbound.status, unknown.status) == (409, 409, 404)
    assert api("GET", f"{BASE}/emails/{to_approve}").json["status"] == "sent"


def test_account_usage_and_the_daily_limit(scenario: ContractClient) -> None:
    api = scenario
    # GIVEN the seeded account, and later a daily warm-up limit of one send per mailbox
    # WHEN the agent reads its account and today's usage, sends up to the limit, and past it
    account = api("GET", "/v1/account")
    usage = api("GET", "/v1/usage", query={"from": "0", "to": "99999999999999"})
    daily = api("GET", "/v1/usage", query={"breakdown": "daily"})
    bad_usage = api("GET", "/v1/usage", query={"from": "yesterday"})
    api.standin.set_daily_limit(api.standin.store.usage("acct_standin", 0, None, None)["emails_sent"])
    try:
        over = api("POST", f"{BASE}/send", send_body(subject="one too many"))
    finally:
        api.standin.set_daily_limit(None)
    # THEN the spec's AccountInfo and UsageSummary, a 400, and a 429 carrying the warm-up numbers
    assert account.json["sending_disabled"] is False
    assert isinstance(account.json["monthly_email_quota"], int)
    assert usage.json["emails_sent"] >= 1
    assert daily.json["breakdown"] == "daily"
    assert bad_usage.status == 400
    assert over.status == 429
    assert over.json["daily_sent"] == over.json["daily_limit"]
    assert over.json["hint"]


def test_a_scheduled_send_shows_scheduled_and_can_be_cancelled(scenario: ContractClient) -> None:
    api = scenario
    # GIVEN a send scheduled for a time far ahead, its scan over and a person's approval given
    accepted = api("POST", f"{BASE}/send", send_body(subject="Later", send_at="2999-01-01T09:00:00Z"))
    api.standin.finish_scans(accepted.json["id"])
    approved = api(
        "POST", "/v1/oversight/decide", {"email_id": accepted.json["id"], "action": "approve"}, key="oversight"
    )
    # WHEN it is read, then cancelled
    read = api("GET", f"{BASE}/emails/{accepted.json['id']}")
    cancelled = api("POST", f"{BASE}/emails/{accepted.json['id']}/cancel")
    # THEN it was approved but not sent: scheduled, then cancelled (the cancel of a scheduled email is assumed)
    assert (accepted.status, approved.json["status"]) == (202, "approved")
    assert read.json["status"] == "scheduled"
    assert cancelled.json == {"id": accepted.json["id"], "status": "cancelled"}


# One concrete call per operation, for the statuses every operation shares (401, 403, 429).
_EVERY_OPERATION: list[tuple[str, str, Any, str, str]] = [
    # method, path, body, a key with the scope, a key without it
    ("GET", "/v1/mailboxes", None, "agent", WRITER_KEY),
    ("POST", f"{BASE}/send", {"to": [CUSTOMER], "subject": "s", "markdown": "shared"}, "agent", READER_KEY),
    ("POST", f"{BASE}/reply/{MEETING_EMAIL_ID}", {"markdown": "shared"}, "agent", READER_KEY),
    ("GET", f"{BASE}/emails", None, "agent", WRITER_KEY),
    ("GET", f"{BASE}/emails/{INVOICE_EMAIL_ID}", None, "agent", WRITER_KEY),
    ("POST", f"{BASE}/emails/em_nope/cancel", None, "agent", READER_KEY),
    ("GET", f"{BASE}/threads/th_seed_invoice", None, "agent", WRITER_KEY),
    ("GET", f"{BASE}/emails/{INVOICE_FOLLOWUP_EMAIL_ID}/attachments/nope.csv", None, "agent", WRITER_KEY),
    ("GET", "/v1/oversight/pending", None, "oversight", "agent"),
    ("POST", "/v1/oversight/decide", {"email_id": "em_nope", "action": "approve"}, "oversight", "agent"),
    ("GET", "/v1/account", None, "agent", WRITER_KEY),
    ("GET", "/v1/usage", None, "agent", WRITER_KEY),
]


def test_every_operation_answers_401_403_and_429(scenario: ContractClient) -> None:
    api = scenario
    # GIVEN one call per operation
    # WHEN each is made with an unknown key, and with a key that lacks the scope
    unauthorized = {api(method, path, body, key=WRONG_KEY).status for method, path, body, _, _ in _EVERY_OPERATION}
    forbidden = {api(method, path, body, key=lacking).status for method, path, body, _, lacking in _EVERY_OPERATION}
    # AND once more after both keys used up a one-per-minute rate limit
    api.standin.set_rate_limit(1)
    try:
        api("GET", "/v1/mailboxes")
        api("GET", "/v1/mailboxes", key="oversight")
        limited = [api(method, path, body, key=holder) for method, path, body, holder, _ in _EVERY_OPERATION]
    finally:
        api.standin.set_rate_limit(None)
    # THEN 401, 403 and 429 with a Retry-After everywhere
    assert unauthorized == {401}
    assert forbidden == {403}
    assert {a.status for a in limited} == {429}
    assert all(int(a.headers["retry-after"]) >= 1 for a in limited)


def test_the_scenario_met_every_documented_status_of_every_operation(scenario: ContractClient) -> None:
    # GIVEN the scenario above has run (this module's tests run in file order)
    # WHEN its (method, path, status) set is compared with the contract's
    missing = documented_statuses() - scenario.seen
    undocumented = scenario.seen - documented_statuses()
    # THEN every documented status was met, and nothing else
    assert missing == set()
    assert undocumented == set()


def test_a_listing_with_a_soft_deleted_mailbox_in_every_mode_fits_the_contract() -> None:
    # GIVEN mailboxes in every mode, one of them soft-deleted
    with StandIn(oversight_mode="monitored") as standin:
        api = ContractClient(standin)
        for mode in ("read_only", "gated_all", "autonomous"):
            standin.add_mailbox(Mailbox(id=f"mbx_{mode}", address=f"{mode}@standin.multimail.local", display_name=mode))
            standin.set_oversight_mode(f"mbx_{mode}", mode)
        standin.soft_delete_mailbox("mbx_read_only")
        # WHEN the mailboxes are listed THEN the answer fits the contract (ContractClient checks it)
        listed = api("GET", "/v1/mailboxes")
    modes = {m["id"]: (m["oversight_mode"], m["is_active"]) for m in listed.json["mailboxes"]}
    assert modes["mbx_read_only"] == ("read_only", 0)
    assert modes[AGENT_MAILBOX_ID] == ("monitored", 1)
