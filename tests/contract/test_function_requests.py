"""Every request the function sends to MultiMail, validated against our contract with openapi-core.

The real handler (``email_actions.app.lambda_handler``) runs each fixture in events/ (Bedrock and gateway) through the
shared fixtures of tests/conftest.py: the API key in moto's Secrets Manager, MultiMail as the loopback
stand-in. The stand-in records each request as it arrived (method, path, query, headers, body), and each
is checked against contract/multimail.openapi.json: the operation exists, the path and query parameters
fit their types, enums and bounds, the body fits the request schema, and the bearer key is there.
"""

from __future__ import annotations

from typing import Any

import pytest
from openapi_core.exceptions import OpenAPIError

from devtools.events import EVENTS
from devtools.mcp_server.invocation import invoke_gateway_fixture, is_gateway_fixture
from devtools.multimail_standin import RecordedRequest, StandIn
from tests.conftest import Invoke, load_event, with_params
from tests.contract.contract import check_request

FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json"))
# Fixtures the function answers without calling MultiMail: bad input never reaches it.
LOCAL_ONLY = {name for name in FIXTURES if name.startswith(("bad_", "gateway_bad_"))}


def contract_violations(requests: list[RecordedRequest]) -> list[str]:
    problems = []
    for request in requests:
        try:
            check_request(request)
        except OpenAPIError as error:
            cause = error.__cause__ or error
            problems.append(f"{request.method} {request.path} {request.query or ''} {request.json or ''}: {cause}")
    return problems


def run(invoke: Invoke, standin: StandIn, event: dict[str, Any]) -> list[RecordedRequest]:
    standin.clear_requests()
    if is_gateway_fixture(event):  # events/gateway_*.json: the same call as an AgentCore Gateway makes it
        invoke_gateway_fixture(event)
    else:
        invoke(event)
    return standin.requests


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_request_of_each_action_fits_the_contract(invoke: Invoke, function_env: StandIn, fixture: str) -> None:
    # GIVEN the deployed configuration pointed at the stand-in, and one fixture (Bedrock or gateway)
    # WHEN the real handler runs it
    requests = run(invoke, function_env, load_event(fixture))
    # THEN every request it sent to MultiMail is one the contract allows (and an action that should call
    # MultiMail did)
    assert contract_violations(requests) == []
    if fixture not in LOCAL_ONLY:
        assert requests, f"{fixture} sent no request to MultiMail"


@pytest.mark.parametrize("status", ["unread", "read", "pending_send_approval", "sent", "pending_scan"])
def test_inbox_status_filters_reach_multimail_only_as_enum_values(
    invoke: Invoke, function_env: StandIn, status: str
) -> None:
    # GIVEN the inbox action asked for one status, inside or outside the API's enum
    event = with_params(load_event("inbox"), status=status, direction="all")
    # WHEN the real handler runs it
    requests = run(invoke, function_env, event)
    # THEN whatever reaches MultiMail fits the contract (a value outside the enum must be refused or
    # mapped by the function, never forwarded)
    assert contract_violations(requests) == []


def test_pending_after_a_send_fits_the_contract(invoke: Invoke, function_env: StandIn) -> None:
    # GIVEN an email the agent just sent (still in its scan)
    send_requests = run(invoke, function_env, load_event("send"))
    # WHEN the agent asks what is waiting for approval
    pending_requests = run(invoke, function_env, load_event("pending"))
    # THEN every request of both actions fits the contract
    assert contract_violations(send_requests + pending_requests) == []
    assert pending_requests
