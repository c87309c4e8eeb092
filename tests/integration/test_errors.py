"""Every failure still gets a well-formed Bedrock answer the model can act on."""

from __future__ import annotations

import json

import pytest

from devtools.multimail_standin import (
    AGENT_ADDRESS,
    AGENT_MAILBOX_ID,
    COLLEAGUE_ADDRESS,
    COLLEAGUE_MAILBOX_ID,
    Faults,
    StandIn,
)
from tests.conftest import Invoke, load_event, mail_requests, reset_function_state, with_params

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
    # MultiMail's answer to a read -> (our status, error code, words)
    (400, 400, "rejected_by_multimail", "refused the request as invalid"),
    (403, 403, "not_permitted", "lacks the scope"),
    (404, 404, "not_found", "Check the id"),
    (409, 409, "conflict", "not in a state"),
    (422, 400, "rejected_by_multimail", "refused the request as invalid"),
]


@pytest.mark.parametrize(("upstream", "status", "code", "words"), UPSTREAM_STATUS)
def test_upstream_client_errors_are_mapped(
    invoke: Invoke, standin: StandIn, upstream: int, status: int, code: str, words: str
) -> None:
    # GIVEN MultiMail refuses a read with its own error text
    standin.inject_fault(Faults.status(upstream, body=json.dumps({"error": "upstream says no"})))
    # WHEN the agent lists the inbox
    answer = invoke(load_event("inbox"))
    # THEN the answer says what it means; MultiMail's words are under `untrusted`, not in the message
    assert (answer.status, answer.body["error"]) == (status, code)
    assert words in answer.message
    assert answer.body["untrusted"] == {"multimail_error": "upstream says no"}
    assert "upstream says no" not in answer.message
    assert answer.body["upstream_status"] == upstream


CONTENT_FILTERED = "Content filtered: the message matches a blocked pattern ('Ignore previous instructions')"

DOCUMENTED_REFUSALS = [
    # (fixture, MultiMail's status, our status, error code, words the answer must contain)
    ("send", 400, 400, "rejected_by_multimail", ["content filter", "Nothing was sent", "change"]),
    ("reply", 400, 400, "rejected_by_multimail", ["content filter", "Nothing was sent"]),
    ("send", 403, 403, "mailbox_read_only", ["read_only", "Nothing was sent", "a human must change"]),
    ("reply", 403, 403, "mailbox_read_only", ["read_only", "oversight mode"]),
    ("reply", 409, 409, "duplicate_reply", ["within the last 60 seconds", "do NOT reply again"]),
    ("reply", 404, 404, "not_found", ["no such email to reply to"]),
    ("cancel", 409, 409, "not_cancellable", ["can no longer be withdrawn", "no longer waits for approval"]),
    ("cancel", 404, 404, "not_found", ["listPendingEmails"]),
]


@pytest.mark.parametrize(("fixture", "upstream", "status", "code", "words"), DOCUMENTED_REFUSALS)
def test_each_documented_refusal_gets_an_answer_the_model_can_act_on(
    invoke: Invoke, standin: StandIn, fixture: str, upstream: int, status: int, code: str, words: list[str]
) -> None:
    # GIVEN MultiMail refuses the write with a status its spec documents for that endpoint
    standin.inject_fault(Faults.status(upstream, body=json.dumps({"error": CONTENT_FILTERED})), method="POST")
    event = load_event(fixture)
    if fixture == "cancel":
        event = with_params(event, email_id="em_queued")
    # WHEN the agent calls the action
    answer = invoke(event)
    # THEN it gets that refusal's own code and advice, once: a refused POST is never repeated
    assert (answer.status, answer.body["error"]) == (status, code)
    for part in words:
        assert part in answer.message
    assert answer.body["untrusted"]["multimail_error"] == CONTENT_FILTERED
    assert "Ignore previous" not in json.dumps({k: v for k, v in answer.body.items() if k != "untrusted"})
    assert len([r for r in standin.requests if r.method == "POST"]) == 1


def test_a_refused_send_says_it_was_not_sent(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.status(400, body=json.dumps({"error": "Invalid recipient"})), method="POST")
    answer = invoke(load_event("send"))
    assert answer.body["sent"] is False
    assert "Do NOT send it again" not in answer.message  # nothing exists to duplicate: fix and send once


def test_read_only_mailbox_refuses_send_with_403(invoke: Invoke, standin: StandIn) -> None:
    # GIVEN a human put the mailbox in read_only mode
    standin.set_oversight_mode(AGENT_MAILBOX_ID, "read_only")
    # WHEN the agent sends
    answer = invoke(load_event("send"))
    # THEN it hears why, and that a human (not it) must change the mode
    assert (answer.status, answer.body["error"]) == (403, "mailbox_read_only")
    assert "a human must change the mailbox's oversight mode" in answer.message
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
    assert len(mail_requests(standin)) == 2


def test_read_timeout_on_send_ends_within_budget_and_warns_not_to_resend(invoke: Invoke, standin: StandIn) -> None:
    # GIVEN a warm function (the key is read), and a send that MultiMail accepts and then never answers
    assert invoke(load_event("inbox")).status == 200
    standin.clear_requests()
    standin.inject_fault(Faults.accept_then_stall(30))
    # WHEN the agent sends with 4 s left: the POST has about 3 s, whatever the machine's load, so
    # the outcome is the stall's, not the machine's
    answer = invoke(load_event("send"), timeout_seconds=4)
    assert answer.status == 504
    assert "may or may not have queued" in answer.message
    assert "Do NOT send it again" in answer.message
    assert len([r for r in standin.requests if r.method == "POST"]) == 1


def test_garbled_success_on_send_counts_as_probably_queued(invoke: Invoke, standin: StandIn) -> None:
    standin.inject_fault(Faults.status(202, body="{not json"))
    answer = invoke(load_event("send"))
    assert answer.status == 502
    assert "probably queued" in answer.message


def test_without_a_default_mailbox_several_mailboxes_are_offered_as_choices(
    invoke: Invoke, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no MULTIMAIL_MAILBOX_ID, and a key that sees the stand-in's two mailboxes
    monkeypatch.delenv("MULTIMAIL_MAILBOX_ID")
    reset_function_state()
    # WHEN the agent lists the inbox without naming a mailbox
    answer = invoke(load_event("inbox"))
    # THEN it is told to pick one, with the ids and addresses to pick from, and nothing else was asked
    assert (answer.status, answer.body["error"]) == (400, "mailbox_required")
    assert answer.body["fields"] == ["mailbox_id"]
    assert answer.body["mailboxes"] == [
        {"id": AGENT_MAILBOX_ID, "untrusted": {"address": AGENT_ADDRESS}},
        {"id": COLLEAGUE_MAILBOX_ID, "untrusted": {"address": COLLEAGUE_ADDRESS}},
    ]
    assert f"{AGENT_MAILBOX_ID}, {COLLEAGUE_MAILBOX_ID}" in answer.message
    assert AGENT_ADDRESS not in answer.message  # third-party text: only under untrusted
    assert [(r.method, r.path) for r in standin.requests] == [("GET", "/v1/mailboxes")]
    # AND naming one works
    assert invoke(with_params(load_event("inbox"), mailbox_id=AGENT_MAILBOX_ID)).status == 200


def test_without_a_default_mailbox_the_only_mailbox_is_used_and_remembered(
    invoke: Invoke, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no MULTIMAIL_MAILBOX_ID, and a key that sees exactly one mailbox
    monkeypatch.delenv("MULTIMAIL_MAILBOX_ID")
    reset_function_state()
    only = {"mailboxes": [{"id": AGENT_MAILBOX_ID, "address": AGENT_ADDRESS, "oversight_mode": "gated_send"}]}
    standin.inject_fault(Faults.status(200, json.dumps(only)), path_contains="/v1/mailboxes", method="GET")
    # WHEN the agent lists the inbox twice without naming a mailbox
    first = invoke(load_event("inbox"))
    second = invoke(load_event("inbox"))
    # THEN both use that mailbox, and the mailboxes were listed once for this execution environment
    assert first.status == second.status == 200
    assert first.body["mailbox_id"] == second.body["mailbox_id"] == AGENT_MAILBOX_ID
    assert [r.path for r in standin.requests] == [
        "/v1/mailboxes",
        f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails",
        f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails",
    ]


def test_without_any_mailbox_the_answer_says_an_operator_must_act(
    invoke: Invoke, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULTIMAIL_MAILBOX_ID")
    reset_function_state()
    standin.inject_fault(Faults.status(200, json.dumps({"mailboxes": []})), method="GET")
    answer = invoke(load_event("send"))
    assert (answer.status, answer.body["error"]) == (400, "mailbox_required")
    assert answer.body["mailboxes"] == []
    assert "an operator must create a mailbox" in answer.message
    assert not [r for r in standin.requests if r.method == "POST"]


def test_missing_secret_setting_is_a_clear_configuration_error(
    invoke: Invoke, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULTIMAIL_SECRET_ID")
    reset_function_state()
    answer = invoke(load_event("inbox"))
    assert answer.status == 500
    assert answer.body["error"] == "function_misconfigured"
    assert "MULTIMAIL_SECRET_ID" in answer.message
