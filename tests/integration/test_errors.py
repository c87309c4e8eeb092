"""Every failure still gets a well-formed Bedrock answer the model can act on."""

from __future__ import annotations

import json

import pytest

from devtools.multimail_standin import AGENT_MAILBOX_ID, Faults, StandIn
from tests.conftest import Invoke, load_event, reset_function_state, with_params

BAD_INPUT = {
    # fixture: (status, field the answer must name, words the answer must contain)
    "bad_send_invalid_address": (400, "to", "'bob@' is not an email address"),
    "bad_send_header_injection": (400, "subject", "must not contain line breaks"),
    "bad_send_too_many_recipients": (400, "to", "at most 50 recipients"),
    "bad_send_no_properties": (400, "to", "`to` is required"),
    "bad_inbox_limit": (400, "limit", "less than or equal to 50"),
    "bad_reply_missing_email_id": (400, "email_id", "`email_id` is required"),
}


@pytest.mark.parametrize("fixture", sorted(BAD_INPUT))
def test_bad_input_is_explained_and_never_reaches_multimail(invoke: Invoke, standin: StandIn, fixture: str) -> None:
    status, field, words = BAD_INPUT[fixture]
    answer = invoke(load_event(fixture))
    assert answer.status == status
    assert answer.body["error"] == "invalid_input"
    assert field in answer.body["fields"]
    assert words in answer.message
    assert "was not sent" in answer.message
    assert standin.requests == []


def test_unknown_action_lists_the_real_ones(invoke: Invoke, standin: StandIn) -> None:
    answer = invoke(load_event("bad_unknown_path"))
    assert answer.status == 404
    assert answer.body["error"] == "unknown_action"
    assert "POST /forward" in answer.message
    assert "GET /pending" in answer.message
    assert standin.requests == []


def test_an_invented_parameter_is_refused_not_dropped(invoke: Invoke, standin: StandIn) -> None:
    event = load_event("send")
    event["requestBody"]["content"]["application/json"]["properties"].append(
        {"name": "attachments", "type": "string", "value": "report.pdf"}
    )
    answer = invoke(event)
    assert answer.status == 400
    assert "`attachments` is not a parameter of this action" in answer.message
    assert standin.requests == []


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ("not an object", "not a JSON object"),
        ({}, "has no apiPath"),
        ({"apiPath": "/send", "httpMethod": "POST", "requestBody": "to=bob"}, "must be application/json"),
        ({"apiPath": "/inbox", "httpMethod": "GET", "parameters": {"limit": "5"}}, "must be a list"),
        (
            {
                "apiPath": "/inbox",
                "httpMethod": "GET",
                "parameters": [{"name": "limit", "value": "5"}, {"name": "limit", "value": "50"}],
            },
            "`limit` was given twice",
        ),
    ],
)
def test_malformed_events_get_a_fallback_answer(invoke: Invoke, standin: StandIn, event: object, words: str) -> None:
    answer = invoke(event)
    assert answer.status == 400
    assert answer.body["error"] == "invalid_request"
    assert words in answer.message
    assert standin.requests == []


UPSTREAM_STATUS = [
    # MultiMail's answer -> (our status, error code, words)
    (403, 403, "not_permitted", "read-only"),
    (404, 404, "not_found", "Check the id"),
    (409, 409, "conflict", "not in a state"),
    (422, 422, "rejected_by_multimail", "refused the request as invalid"),
]


@pytest.mark.parametrize(("upstream", "status", "code", "words"), UPSTREAM_STATUS)
def test_upstream_client_errors_are_mapped(
    invoke: Invoke, standin: StandIn, upstream: int, status: int, code: str, words: str
) -> None:
    standin.inject_fault(Faults.status(upstream, body=json.dumps({"error": "upstream says no"})))
    answer = invoke(load_event("inbox"))
    assert (answer.status, answer.body["error"]) == (status, code)
    assert words in answer.message
    assert "MultiMail said: upstream says no" in answer.message
    assert answer.body["upstream_status"] == upstream


def test_read_only_mailbox_refuses_send_with_403(invoke: Invoke, standin: StandIn) -> None:
    standin.set_oversight_mode(AGENT_MAILBOX_ID, "read_only")
    answer = invoke(load_event("send"))
    assert answer.status == 403
    assert standin.emails(AGENT_MAILBOX_ID)[-1].direction == "inbound"  # nothing was created


def test_rate_limit_is_reported_with_retry_after_and_not_sent(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.status(429, body='{"error": "rate limit exceeded"}', headers={"Retry-After": "120"}))
    before = len(standin.emails(AGENT_MAILBOX_ID))
    answer = invoke(load_event("send"))
    assert answer.status == 429
    assert answer.body["retry_after_seconds"] == 120
    assert answer.body["sent"] is False
    assert "retry after 120 s" in answer.message
    assert len(standin.emails(AGENT_MAILBOX_ID)) == before


def test_server_error_on_send_says_check_pending_and_is_not_retried(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.status(503, body="<html><body>Service Unavailable</body></html>"))
    answer = invoke(load_event("send"))
    assert answer.status == 502
    assert "listPendingEmails" in answer.message
    assert "<html>" not in answer.message
    assert len([r for r in standin.requests if r.method == "POST"]) == 1


def test_server_error_on_read_is_retried(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.status(500, body='{"error": "boom"}'))
    answer = invoke(load_event("inbox"))
    assert answer.status == 200
    assert len(standin.requests) == 2


def test_read_timeout_on_send_ends_within_budget_and_warns_not_to_resend(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.accept_then_stall(5))
    answer = invoke(load_event("send"), timeout_seconds=2.5)
    assert answer.status == 504
    assert "may or may not have queued" in answer.message
    assert "Do NOT send it again" in answer.message
    assert len([r for r in standin.requests if r.method == "POST"]) == 1


def test_garbled_success_on_send_counts_as_probably_queued(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.status(202, body="{not json"))
    answer = invoke(load_event("send"))
    assert answer.status == 502
    assert "probably queued" in answer.message


def test_missing_default_mailbox_asks_for_one(
    invoke: Invoke, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULTIMAIL_MAILBOX_ID")
    reset_function_state()
    answer = invoke(load_event("inbox"))
    assert answer.status == 400
    assert answer.body["fields"] == ["mailbox_id"]
    assert standin.requests == []
    assert invoke(with_params(load_event("inbox"), mailbox_id=AGENT_MAILBOX_ID)).status == 200


def test_missing_secret_setting_is_a_clear_configuration_error(
    invoke: Invoke, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULTIMAIL_SECRET_ID")
    reset_function_state()
    answer = invoke(load_event("inbox"))
    assert answer.status == 500
    assert answer.body["error"] == "function_misconfigured"
    assert "MULTIMAIL_SECRET_ID" in answer.message
