"""The mailbox's tools for Converse, and a tool call as the action-group event the function answers.

The tools are the generated tool list (openapi/email_actions.tools.json, written by `make openapi`
from the operation table, the same list the AgentCore Gateway and `make mcp` serve). A Converse
conversation is a Bedrock Agents session in all but name (one session id scopes exactly-once
sending), so a tool call goes to the function as the action-group event Bedrock Agents would send:
every value a string, under `parameters` or `requestBody` as the operation places it. The
operation table itself (email_actions.operations) says where; nothing here knows an operation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email_actions.operations import Operation

ROOT = Path(__file__).resolve().parent.parent
TOOLS_PATH = ROOT / "openapi" / "email_actions.tools.json"
TEMPLATE_PATH = ROOT / "template.yaml"

# Used only when template.yaml (the single source of the default model) cannot be read.
FALLBACK_MODEL_ID = "us.amazon.nova-2-lite-v1:0"

ACTION_GROUP = "EmailActions"  # the template's ActionGroupName
AGENT = {"name": "converse-agent", "id": "converse-local", "alias": "converse-local", "version": "local"}


class SchemaError(ValueError):
    """The generated tool list cannot be read."""


def load_operations() -> dict[str, Operation]:
    """The operations, by name, in the table's order."""
    from devtools.local_env import ensure_function_importable

    ensure_function_importable()
    from email_actions.operations import BY_NAME

    return dict(BY_NAME)


def tool_config(operations: Mapping[str, Operation], path: Path = TOOLS_PATH) -> dict[str, Any]:
    """The Converse `toolConfig`: one toolSpec per operation, from the generated tool list."""
    try:
        tools = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SchemaError(f"Cannot read the tool list {path}: {error}") from None
    specs = {tool["name"]: tool for tool in tools}
    missing = [name for name in operations if name not in specs]
    if missing:
        raise SchemaError(f"{path} has no tool for {', '.join(missing)}: run `make openapi`.")
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": name,
                    "description": specs[name]["description"],
                    "inputSchema": {"json": specs[name]["inputSchema"]},
                }
            }
            for name in operations
        ]
    }


# -- a tool call, as the action-group event -------------------------------------------------------


def build_event(
    operation: Operation, tool_input: Mapping[str, Any], *, session_id: str, input_text: str
) -> dict[str, Any]:
    """The Bedrock Agents action-group event for this tool call, exactly as Bedrock would send it.

    Values are strings (arrays and objects as JSON text); a null value is left out. A name the
    operation does not know goes where its other arguments go, so that the function's own
    validation answers it the way it answers Bedrock.
    """
    parameters: list[dict[str, str]] = []
    properties: list[dict[str, str]] = []
    for name, value in tool_input.items():
        if value is None:
            continue
        declared = _declared_types().get(operation.name, {}).get(name)
        item = {"name": name, "type": declared or _json_type(value), "value": _as_text(value)}
        (properties if operation.location(name) == "body" else parameters).append(item)
    event: dict[str, Any] = {
        "messageVersion": "1.0",
        "agent": dict(AGENT),
        "inputText": input_text,
        "sessionId": session_id,
        "actionGroup": ACTION_GROUP,
        "apiPath": operation.path,
        "httpMethod": operation.method,
        "sessionAttributes": {},
        "promptSessionAttributes": {},
    }
    if parameters:
        event["parameters"] = parameters
    # A body whenever the operation needs one, even empty: "`to` is required" says more than "no body".
    if properties or any(operation.location(name) == "body" for name in operation.required_arguments()):
        event["requestBody"] = {"content": {"application/json": {"properties": properties}}}
    return event


@cache
def _declared_types(path: Path = TOOLS_PATH) -> dict[str, dict[str, str]]:
    """tool -> argument -> its JSON type, as the tool list declares it (Bedrock sends that `type`)."""
    try:
        tools = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        tool["name"]: {
            name: str(schema.get("type", "string")) for name, schema in tool["inputSchema"]["properties"].items()
        }
        for tool in tools
    }


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


# -- the function's answer, as a toolResult -------------------------------------------------------


def tool_result(tool_use_id: str, response: Any) -> dict[str, Any]:
    """A Converse `toolResult` block from an action-group response: the answer body as JSON, and
    `status: error` when the function answered with an HTTP status of 400 or more."""
    try:
        inner = response["response"]
        status = int(inner["httpStatusCode"])
        body = json.loads(inner["responseBody"]["application/json"]["body"])
    except (KeyError, TypeError, ValueError):
        status = 502
        body = {"error": "bad_function_response", "message": "The email function gave an answer in an unknown shape."}
    if not isinstance(body, dict):
        body = {"result": body}
    return error_result(tool_use_id, body) if status >= 400 else _result(tool_use_id, body, "success")


def error_result(tool_use_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return _result(tool_use_id, body, "error")


def _result(tool_use_id: str, body: dict[str, Any], status: str) -> dict[str, Any]:
    return {"toolResult": {"toolUseId": tool_use_id, "content": [{"json": body}], "status": status}}


# -- the default model: the template's FoundationModel default ----------------------------------


def default_model_id(template: Path = TEMPLATE_PATH) -> str:
    """The `Default` of the template's `FoundationModel` parameter, so the model is named once.

    A line scan rather than a YAML load: the template's CloudFormation tags (!Ref, !Sub...) need a
    special loader, and only one value is wanted.
    """
    try:
        lines = template.read_text(encoding="utf-8").splitlines()
    except OSError:
        return FALLBACK_MODEL_ID
    section = ""
    in_parameter = False
    for line in lines:
        if line and not line[0].isspace():
            section = line.split(":", 1)[0]
            in_parameter = False
        elif section == "Parameters" and re.fullmatch(r"  \S.*:\s*", line):
            in_parameter = line.strip() == "FoundationModel:"
        elif in_parameter:
            match = re.fullmatch(r"    Default:\s*['\"]?([^'\"\s#]+)['\"]?\s*(#.*)?", line)
            if match:
                return match.group(1)
    return FALLBACK_MODEL_ID
