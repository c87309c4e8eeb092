"""The gateway path under the same tests: `invoke` here takes a Bedrock event, as the integration tests
write them, and sends the same call the way an AgentCore Gateway does (the tool's arguments, typed as
the tool schema says, and the tool's name in the client context). The tool's result comes back as an
`Answer`, so an integration test imported into this folder runs unchanged on the gateway path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.mcp_server.invocation import call_tool
from devtools.multimail_standin import StandIn
from tests.conftest import Answer, Invoke


def gateway_call(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(tool, arguments) for the Bedrock event's call: the operation's name, and JSON-typed values."""
    from email_actions.operations import BY_ROUTE
    from tools.openapi import arguments

    operation = BY_ROUTE[(event["httpMethod"], event["apiPath"])]
    types = {argument.name: str(argument.schema.get("type", "string")) for argument in arguments(operation)}
    items = list(event.get("parameters") or [])
    body = (event.get("requestBody") or {}).get("content", {}).get("application/json", {})
    items += body.get("properties") or []
    return operation.name, {item["name"]: typed(item["value"], types.get(item["name"], "string")) for item in items}


def typed(value: Any, json_type: str) -> Any:
    """What an MCP client sends for Bedrock's string `value`: an integer, a list, or the text itself."""
    if not isinstance(value, str):
        return value
    if json_type == "integer" and value.strip().lstrip("-").isdigit():
        return int(value)
    if json_type == "array" and value.strip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def as_answer(result: Any) -> Answer:
    """The tool's result, checked (a JSON object, far below Bedrock's 25 KB), as an Answer."""
    assert isinstance(result, dict)
    assert len(json.dumps(result).encode()) < 25_000
    body = dict(result)
    status = body.pop("status_code", 200)
    assert isinstance(status, int)
    assert (status >= 400) == ("error" in body)
    return Answer(raw=result, status=status, body=body)


@pytest.fixture
def invoke(function_env: StandIn) -> Invoke:
    def run(event: Any, *, timeout_seconds: float = 30.0) -> Answer:
        tool, arguments = gateway_call(event)
        return as_answer(call_tool(tool, arguments, timeout_seconds=timeout_seconds))

    return run
