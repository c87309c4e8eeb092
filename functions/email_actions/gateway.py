"""The AgentCore Gateway door: a Lambda-target tool call in, the tool's result out.

An AgentCore Gateway invokes the function with the tool's arguments alone as the event, and names
the tool in the client context (`bedrockAgentCoreToolName`, as `<target>___<tool>`). The tool's
name is the operation's name, and the arguments go to the tool core as they are: the request model
takes JSON types as readily as Bedrock's strings. The result is the answer's JSON object, with
`status_code` added when it is an error. `make mcp` and the Converse loop call the function the same
way, so this door serves them too.

Errors are returned, never raised: the gateway hides a raised (function) error behind an
unspecified internal error unless the gateway's exception level is DEBUG, so a model would never
see what to correct.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from email_actions import core
from email_actions.answers import RESPONSE_BUDGET_BYTES, serialize
from email_actions.email_service import Caller
from email_actions.observability import AuditRecord, logger
from email_actions.operations import BY_NAME

TOOL_NAME_KEY = "bedrockAgentCoreToolName"
GATEWAY_ID_KEY = "bedrockAgentCoreGatewayId"
TARGET_ID_KEY = "bedrockAgentCoreTargetId"
_GATEWAY_KEY_PREFIX = "bedrockAgentCore"
TARGET_SEPARATOR = "___"
TOOL_NAME_SHOWN = 80
# Everything of a gateway call shares one caller: the gateway passes on nothing that names the
# conversation, so exactly-once is scoped to the gateway (one scope per gateway id).
GATEWAY_AGENT_PREFIX = "agentcore-gateway:"
GATEWAY_SESSION_ID = "agentcore-gateway"


def client_context_custom(context: Any) -> Mapping[str, Any] | None:
    """The gateway's keys of the Lambda client context, or None when no gateway invoked the function.

    Bedrock Agents sends no client context; the gateway always sets `bedrockAgentCore*` keys.
    """
    custom = getattr(getattr(context, "client_context", None), "custom", None)
    if isinstance(custom, Mapping) and any(
        isinstance(key, str) and key.startswith(_GATEWAY_KEY_PREFIX) for key in custom
    ):
        return custom
    return None


def tool_name(custom: Mapping[str, Any]) -> tuple[str, str | None]:
    """(target, tool) from `<target>___<tool>`; the tool is None when the gateway named none."""
    name = custom.get(TOOL_NAME_KEY)
    if not isinstance(name, str) or not name.strip():
        return "", None
    target, separator, tool = name.partition(TARGET_SEPARATOR)
    return (target, tool) if separator else ("", name)


def caller(custom: Mapping[str, Any]) -> Caller:
    """The gateway as exactly-once's caller: the same email asked for twice through one gateway within
    the window is sent once, whichever conversation asks. A long gateway id is hashed, never dropped."""
    gateway_id = custom.get(GATEWAY_ID_KEY)
    named = gateway_id if isinstance(gateway_id, str) and gateway_id else "unknown"
    return Caller(agent_id=GATEWAY_AGENT_PREFIX + core.caller_id(named), session_id=GATEWAY_SESSION_ID)


def audit_record(custom: Mapping[str, Any]) -> AuditRecord:
    _, tool = tool_name(custom)
    shown = tool if tool is not None and len(tool) <= TOOL_NAME_SHOWN else "?"
    target_id = custom.get(TARGET_ID_KEY)
    return AuditRecord(
        action=f"tool {shown}",
        agent_id=caller(custom).agent_id,
        agent_alias=core.caller_id(target_id) if isinstance(target_id, str) and target_id else None,
        session_id=GATEWAY_SESSION_ID,
    )


def answer_tool_call(event: Any, custom: Mapping[str, Any], call: core.Call) -> dict[str, Any]:
    """The tool's result for this call (any event at all), within the size the caller can take."""
    answer = _answer(event, custom, call)
    if answer.status_code >= 400 and "error" in answer.body:
        logger.warning("gateway call refused", extra={"error_code": answer.body["error"]})
    return within_limit(result(answer))


def _answer(event: Any, custom: Mapping[str, Any], call: core.Call) -> core.Answer:
    _, tool = tool_name(custom)
    names = list(BY_NAME)
    if tool is None:
        return core.error_answer(
            400,
            "invalid_request",
            f"The gateway did not say which tool to run (no {TOOL_NAME_KEY} in the client context). "
            "Call one of the tools: " + ", ".join(names) + ".",
        )
    operation = BY_NAME.get(tool)
    if operation is None:
        shown = tool if len(tool) <= TOOL_NAME_SHOWN else tool[: TOOL_NAME_SHOWN - 3] + "..."
        return core.error_answer(
            404, "unknown_tool", f"There is no tool {shown!r}. The tools are: " + ", ".join(names) + "."
        )
    if not isinstance(event, dict):
        return core.error_answer(400, "invalid_request", f"The arguments of {tool} must be a JSON object.")
    refusal = core.check_argument_names(event)
    if refusal is not None:
        return refusal
    # null means "not given": the operation's default applies.
    arguments = {name: value for name, value in event.items() if value is not None}
    return core.run(operation, arguments, call)


def result(answer: core.Answer) -> dict[str, Any]:
    """The answer as the tool's result: its JSON object, with `status_code` on errors."""
    return {**answer.body, "status_code": answer.status_code} if answer.status_code >= 400 else answer.body


def within_limit(tool_result: dict[str, Any]) -> dict[str, Any]:
    """The last guard, as for the action group: a result over the budget is replaced by one that says so."""
    size = len(json.dumps(serialize(tool_result)))
    if size <= RESPONSE_BUDGET_BYTES:
        return tool_result
    logger.error("answer over the size limit", extra={"response_bytes": size})
    return result(core.too_large(size))
