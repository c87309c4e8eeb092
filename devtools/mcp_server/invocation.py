"""A gateway-shaped invocation, as an AgentCore Gateway makes it: the arguments, and a Lambda context
whose client context names the tool (`<target>___<tool>`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from devtools.lambda_context import LocalLambdaContext

TARGET_NAME = "mail"  # template.yaml's GatewayTarget Name: tools are mail___<operationId>
LOCAL_GATEWAY_ID = "local-mcp-0000000000"


@dataclass
class ClientContext:
    """What the Lambda runtime hands the function as `context.client_context`."""

    custom: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    client: Any = None


@dataclass
class GatewayLambdaContext(LocalLambdaContext):
    client_context: ClientContext | None = None


def gateway_custom(tool: str, *, target: str = TARGET_NAME, gateway_id: str = LOCAL_GATEWAY_ID) -> dict[str, Any]:
    """The client context's keys for a call of `tool` (the documented bedrockAgentCore* keys)."""
    return {
        "bedrockAgentCoreGatewayId": gateway_id,
        "bedrockAgentCoreTargetId": "LOCALTARGT",
        "bedrockAgentCoreMessageVersion": "1.0",
        "bedrockAgentCoreToolName": f"{target}___{tool}" if target else tool,
        "bedrockAgentCoreAwsRequestId": str(uuid.uuid4()),
        "bedrockAgentCoreMcpMessageId": str(uuid.uuid4()),
    }


def gateway_context(tool: str, *, timeout_seconds: float = 30.0, **custom: Any) -> GatewayLambdaContext:
    """A Lambda context carrying a gateway's client context for `tool`."""
    return GatewayLambdaContext(
        timeout_seconds=timeout_seconds, client_context=ClientContext(custom=gateway_custom(tool, **custom))
    )


def call_tool(tool: str, arguments: Any, *, timeout_seconds: float = 30.0, **custom: Any) -> dict[str, Any]:
    """One gateway-shaped invocation of the real handler; its return value is the tool's result."""
    from email_actions.app import lambda_handler

    result: dict[str, Any] = lambda_handler(arguments, gateway_context(tool, timeout_seconds=timeout_seconds, **custom))
    return result


# -- gateway fixtures (events/gateway_*.json): {"clientContext": {"custom": {...}}, "payload": {...}} ----
# The two parts of `aws lambda invoke --client-context ... --payload ...`, as the gateway sends them.


def is_gateway_fixture(data: Any) -> bool:
    return isinstance(data, dict) and set(data) == {"clientContext", "payload"}


def invoke_gateway_fixture(data: dict[str, Any], *, timeout_seconds: float = 30.0) -> dict[str, Any]:
    """Run a gateway fixture through the real handler; the tool's result."""
    from email_actions.app import lambda_handler

    custom = dict(data["clientContext"].get("custom") or {})
    context = GatewayLambdaContext(timeout_seconds=timeout_seconds, client_context=ClientContext(custom=custom))
    result: dict[str, Any] = lambda_handler(data["payload"], context)
    return result
