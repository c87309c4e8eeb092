"""What is particular to the AgentCore Gateway path: telling the shapes apart, translating a tool call,
refusing a malformed one before anything reaches MultiMail, and the scope of exactly-once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.lambda_context import LocalLambdaContext
from devtools.mcp_server.invocation import (
    ClientContext,
    GatewayLambdaContext,
    call_tool,
    gateway_custom,
    invoke_gateway_fixture,
    is_gateway_fixture,
)
from devtools.multimail_standin import AGENT_MAILBOX_ID, INVOICE_EMAIL_ID, StandIn
from email_actions import gateway
from tests.conftest import check_bedrock_response, load_event, mail_requests
from tests.gateway.conftest import as_answer

ROOT = Path(__file__).resolve().parents[2]
TOOLS = [tool["name"] for tool in json.loads((ROOT / "openapi" / "email_actions.tools.json").read_text())]
SEND = {"to": ["ana@example.com"], "subject": "Thursday", "body": "See you at 10:00."}


def _handler() -> Any:
    from email_actions.app import lambda_handler

    return lambda_handler


def _posts(standin: StandIn) -> list[Any]:
    return [request for request in standin.requests if request.method == "POST"]


# -- one entry point, two shapes -------------------------------------------------------------------


def test_a_bedrock_event_still_gets_a_bedrock_response(function_env: StandIn) -> None:
    # GIVEN a Bedrock Agent event and a context without a client context (what Bedrock sends)
    event = load_event("inbox")
    # WHEN the handler runs it
    response = _handler()(event, LocalLambdaContext())
    # THEN the answer is the Bedrock response, not a tool result
    assert check_bedrock_response(event, response).status == 200


def test_a_client_context_without_gateway_keys_is_not_a_gateway_call(function_env: StandIn) -> None:
    # GIVEN a Bedrock event whose context carries some other client context
    event = load_event("inbox")
    context = GatewayLambdaContext(client_context=ClientContext(custom={"app": "mobile"}))
    # WHEN it runs THEN it is answered as a Bedrock event
    assert check_bedrock_response(event, _handler()(event, context)).status == 200


def test_a_tool_call_answers_with_the_use_case_answer(function_env: StandIn) -> None:
    # GIVEN the tool name with the target's prefix, and typed arguments
    # WHEN the gateway calls listInbox with an integer limit
    answer = as_answer(call_tool("listInbox", {"limit": 2}))
    # THEN the result is the inbox answer itself, with the third-party text marked
    assert answer.status == 200
    assert answer.body["count"] == 2
    assert "untrusted" in answer.body["emails"][0]
    # AND MultiMail got the limit as Bedrock would have sent it
    assert mail_requests(function_env)[-1].query["limit"] == "2"


def test_the_tool_name_works_with_or_without_the_target_prefix(function_env: StandIn) -> None:
    # GIVEN the same call named `readEmail` and `othertarget___readEmail`
    for target in ("", "othertarget"):
        # WHEN it runs THEN the email is read
        answer = as_answer(call_tool("readEmail", {"email_id": INVOICE_EMAIL_ID}, target=target))
        assert answer.status == 200, answer.body
        assert answer.body["email"]["id"] == INVOICE_EMAIL_ID


def test_null_means_not_given(function_env: StandIn) -> None:
    # GIVEN an MCP client that sends null for optional arguments
    answer = as_answer(call_tool("listInbox", {"limit": None, "mailbox_id": None, "status": None}))
    # THEN the defaults apply: the default mailbox, 10 emails
    assert answer.status == 200
    assert answer.body["mailbox_id"] == AGENT_MAILBOX_ID
    assert mail_requests(function_env)[-1].query["limit"] == "10"


# -- malformed calls: a well-formed error result, and nothing reaches MultiMail ---------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("listInbox", {"limit": "ten"}, "limit"),
        ("listInbox", {"limit": 5.5}, "limit"),
        ("listInbox", {"limit": True}, "limit"),
        ("listInbox", {"limit": 500}, "limit"),
        ("readEmail", {"email_id": INVOICE_EMAIL_ID, "body_offset": [1]}, "body_offset"),
        ("readEmail", {"email_id": "../../admin"}, "email_id"),
        ("readEmail", {}, "email_id"),
        ("sendEmail", {**SEND, "to": ["not an address"]}, "to"),
        ("sendEmail", {**SEND, "to": "ana@example.com\r\nBcc: eve@example.com"}, "to"),
        ("sendEmail", {**SEND, "subject": "Hi\r\nBcc: eve@example.com"}, "subject"),
        ("sendEmail", {"to": ["ana@example.com"]}, "subject"),
        ("sendEmail", {**SEND, "attachments": ["invoice.pdf"]}, "attachments"),
        ("listPendingEmails", {"since": "yesterday"}, "since"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    function_env: StandIn, tool: str, arguments: dict[str, Any], field: str
) -> None:
    # GIVEN arguments that do not fit the tool's schema
    # WHEN the gateway calls the tool
    answer = as_answer(call_tool(tool, arguments))
    # THEN the result is a 400 that names the field, says what to do, and nothing reached MultiMail
    assert answer.status == 400
    assert answer.body["error"] == "invalid_input"
    assert field in answer.body["fields"]
    assert f"`{field}" in answer.message
    assert "call again" in answer.message
    assert function_env.requests == []


@pytest.mark.parametrize("arguments", [["ana@example.com"], "listInbox", 42, None])
def test_arguments_that_are_not_an_object_are_refused(function_env: StandIn, arguments: Any) -> None:
    answer = as_answer(call_tool("listInbox", arguments))
    assert answer.status == 400
    assert answer.body["error"] == "invalid_request"
    assert "JSON object" in answer.message
    assert function_env.requests == []


def test_an_unknown_tool_lists_the_real_ones(function_env: StandIn) -> None:
    # GIVEN a tool the target does not have
    answer = as_answer(call_tool("forwardEmail", {"email_id": INVOICE_EMAIL_ID}))
    # THEN a 404 names every real tool, and nothing reached MultiMail
    assert answer.status == 404
    assert answer.body["error"] == "unknown_tool"
    assert all(name in answer.message for name in TOOLS)
    assert function_env.requests == []


def test_a_gateway_call_without_a_tool_name_is_refused(function_env: StandIn) -> None:
    # GIVEN a client context with the gateway's keys but no tool name
    custom = gateway_custom("listInbox")
    del custom[gateway.TOOL_NAME_KEY]
    context = GatewayLambdaContext(client_context=ClientContext(custom=custom))
    # WHEN the handler runs
    answer = as_answer(_handler()(SEND, context))
    # THEN the result says so and lists the tools
    assert answer.status == 400
    assert gateway.TOOL_NAME_KEY in answer.message
    assert "sendEmail" in answer.message
    assert function_env.requests == []


# -- exactly-once on this path ---------------------------------------------------------------------


def test_the_same_email_through_one_gateway_is_sent_once_across_conversations(function_env: StandIn) -> None:
    # GIVEN two calls of sendEmail with the same content through the same gateway, with other message ids
    first = as_answer(call_tool("sendEmail", SEND))
    second = as_answer(call_tool("sendEmail", SEND))
    # THEN MultiMail queued one email and both answers name it (nothing names the conversation)
    assert first.status == second.status == 200
    assert second.body["email_id"] == first.body["email_id"]
    assert len(function_env.emails(AGENT_MAILBOX_ID)) == len(
        {email.id for email in function_env.emails(AGENT_MAILBOX_ID)}
    )
    keys = {request.json["idempotency_key"] for request in _posts(function_env)}
    assert len(keys) == 1


def test_another_gateway_or_the_bedrock_agent_is_another_caller(function_env: StandIn) -> None:
    # GIVEN the same email asked for through two gateways and by the Bedrock agent
    as_answer(call_tool("sendEmail", SEND, gateway_id="gw-one-0000000000"))
    as_answer(call_tool("sendEmail", SEND, gateway_id="gw-two-0000000000"))
    # THEN each caller's request carries its own idempotency key
    keys = [request.json["idempotency_key"] for request in _posts(function_env)]
    assert len(keys) == 2
    assert len(set(keys)) == 2


# -- the fixtures in events/ -----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((ROOT / "events").glob("gateway_*.json")), ids=lambda path: path.stem)
def test_the_gateway_fixtures_run(function_env: StandIn, path: Path) -> None:
    # GIVEN a gateway fixture: the payload and the client context of `aws lambda invoke`
    data = json.loads(path.read_text())
    assert is_gateway_fixture(data)
    # WHEN it runs through the handler
    answer = as_answer(invoke_gateway_fixture(data))
    # THEN the bad ones are refused before MultiMail, and the good ones reach it and get its answer
    # (the cancel fixture, like events/cancel.json, names an email the stand-in does not hold)
    if path.stem.startswith("gateway_bad_"):
        assert answer.status in (400, 404)
        assert function_env.requests == []
    else:
        assert function_env.requests
        assert answer.status == 200 or answer.body.get("upstream_status") == 404, answer.body


# -- bounded before anything is echoed (issue 20, item 2) ------------------------------------------


def test_huge_unknown_argument_names_are_refused_without_being_echoed(function_env: StandIn) -> None:
    # GIVEN six arguments named with 100,000 characters each (1.2 MB of echo, in the third review)
    arguments = {f"{index}" + "n" * 100_000: "x" for index in range(6)}
    # WHEN the gateway calls listInbox with them
    result = call_tool("listInbox", arguments)
    # THEN the answer refuses them in a few hundred bytes, and MultiMail is never called
    assert result["status_code"] == 400
    assert len(json.dumps(result)) < 600
    assert "100,001 characters" in result["message"]
    assert function_env.requests == []


def test_too_many_arguments_are_refused_by_count(function_env: StandIn) -> None:
    result = call_tool("listInbox", {f"a{index}": index for index in range(5_000)})
    assert result["status_code"] == 400
    assert "5,000 arguments" in result["message"]
    assert len(json.dumps(result)) < 600
    assert function_env.requests == []


# -- long gateway ids keep their own exactly-once scope (issue 20, item 9) ---------------------------


def test_two_gateways_with_long_ids_are_two_callers(function_env: StandIn) -> None:
    # GIVEN two gateways whose ids are over 100 characters and differ only at the end
    common = "gw-" + "x" * 120
    first = as_answer(call_tool("sendEmail", SEND, gateway_id=common + "-one"))
    second = as_answer(call_tool("sendEmail", SEND, gateway_id=common + "-two"))
    # THEN each one's send is its own email, under its own idempotency key (no scope was dropped to "")
    assert first.status == second.status == 200
    assert first.body["email_id"] != second.body["email_id"]
    assert second.body.get("repeat") is not True
    keys = [request.json["idempotency_key"] for request in _posts(function_env)]
    assert len(set(keys)) == 2


# -- anything a gateway could send: never a crash, always a well-formed result ---------------------

ARGUMENT_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
TOOL_NAMES = st.sampled_from(TOOLS) | st.text(max_size=30)
ARGUMENT_NAMES = st.sampled_from(["to", "subject", "body", "email_id", "mailbox_id", "limit", "cursor"]) | st.text(
    max_size=12
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tool=TOOL_NAMES, arguments=st.dictionaries(ARGUMENT_NAMES, ARGUMENT_VALUES, max_size=5) | ARGUMENT_VALUES)
def test_any_call_gets_a_well_formed_result(function_env: StandIn, tool: str, arguments: Any) -> None:
    # GIVEN any tool name and any JSON value as the arguments WHEN the gateway calls the function
    answer = as_answer(call_tool(tool, arguments))
    # THEN the result is a JSON object below 25 KB with a status, an error code and a message on errors
    if answer.status >= 400:
        assert answer.body["error"]
        assert answer.message
