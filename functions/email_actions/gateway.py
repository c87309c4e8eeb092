"""The AgentCore Gateway path: a Lambda-target tool call, answered by the very same routes.

An AgentCore Gateway invokes the function with the tool's arguments alone as the event, and names
the tool in the client context (`bedrockAgentCoreToolName`, as `<target>___<tool>`). A call is
translated into the Bedrock Agent event of the route whose operationId is the tool's name, run
through the one resolver (validation, exactly-once, `untrusted` marking and error mapping are
shared), and the Bedrock response is turned back into the tool's result: the answer's JSON object,
with `status_code` added when it is an error.

Errors are returned, never raised: the gateway hides a raised (function) error behind an
unspecified internal error unless the gateway's exception level is DEBUG, so a model would never
see what to correct.

The tool definitions (name, description, input schema) are made here from the same OpenAPI
document as the action group's schema (`tools/openapi.py` writes them to openapi/), so the two
paths can never offer different tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from email_actions.observability import logger

TOOL_NAME_KEY = "bedrockAgentCoreToolName"
GATEWAY_ID_KEY = "bedrockAgentCoreGatewayId"
TARGET_ID_KEY = "bedrockAgentCoreTargetId"
_GATEWAY_KEY_PREFIX = "bedrockAgentCore"
TARGET_SEPARATOR = "___"
# Everything of a gateway call shares one caller: the gateway passes on nothing that names the
# conversation, so exactly-once is scoped to the gateway (see `bedrock_event`).
GATEWAY_AGENT_PREFIX = "agentcore-gateway:"
GATEWAY_SESSION_ID = "agentcore-gateway"  # one exactly-once scope per gateway (the agent id names it)
_LOCATIONS = ("path", "query")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a tool's arguments go in the Bedrock event of its route, and their JSON types."""

    method: str
    path: str
    locations: Mapping[str, str]  # argument -> "path", "query" or "body"
    types: Mapping[str, str]  # argument -> JSON schema type


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


def error_result(status_code: int, code: str, message: str, **details: object) -> dict[str, Any]:
    """A tool result a model can act on: what went wrong, the status, and what to do."""
    return {"error": code, "message": message, **details, "status_code": status_code}


def answer_tool_call(
    event: Any,
    custom: Mapping[str, Any],
    routes: Mapping[str, Route],
    run: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Translate the call, run the Bedrock event through `run` (the resolver), and shape the result."""
    translated = bedrock_event(event, custom, routes)
    if "error" in translated:  # the call itself is malformed: nothing to run
        logger.warning("gateway call refused", extra={"error_code": translated["error"]})
        return translated
    return tool_result(run(translated))


def bedrock_event(event: Any, custom: Mapping[str, Any], routes: Mapping[str, Route]) -> dict[str, Any]:
    """The Bedrock Agent event for this tool call, or an error result (a dict with `error`)."""
    target, tool = tool_name(custom)
    if tool is None:
        return error_result(
            400,
            "invalid_request",
            f"The gateway did not say which tool to run (no {TOOL_NAME_KEY} in the client context). "
            "Call one of the tools: " + ", ".join(routes) + ".",
        )
    route = routes.get(tool)
    if route is None:
        shown = tool if len(tool) <= 80 else tool[:77] + "..."
        return error_result(
            404, "unknown_tool", f"There is no tool {shown!r}. The tools are: " + ", ".join(routes) + "."
        )
    if not isinstance(event, dict):
        return error_result(400, "invalid_request", f"The arguments of {tool} must be a JSON object.")
    unknown = [name for name in event if name not in route.locations]
    if unknown:
        listed = "; ".join(f"`{name}` is not a parameter of this action" for name in unknown[:6])
        return error_result(
            400,
            "invalid_input",
            f"The request was not sent: {listed}. Correct the request and call again.",
            fields=[str(name) for name in unknown[:6]],
        )
    parameters: list[dict[str, Any]] = []
    properties: list[dict[str, Any]] = []
    for name, value in event.items():
        if value is None:  # null means "not given": the route's default applies
            continue
        json_type = route.types.get(name, "string")
        item = {"name": name, "type": json_type, "value": bedrock_value(value, json_type)}
        (properties if route.locations[name] == "body" else parameters).append(item)
    gateway_id = custom.get(GATEWAY_ID_KEY)
    translated: dict[str, Any] = {
        "messageVersion": "1.0",
        # The caller of exactly-once (email_service.Caller): the gateway. No context field names a
        # conversation, so the whole gateway is one scope (a fixed, valid session id): the same email
        # asked for twice through this gateway within the window is sent once, whichever
        # conversation asks.
        "agent": {
            "id": GATEWAY_AGENT_PREFIX + (gateway_id if isinstance(gateway_id, str) else "unknown"),
            "alias": str(custom.get(TARGET_ID_KEY) or ""),
        },
        "sessionId": GATEWAY_SESSION_ID,
        "actionGroup": target,
        "apiPath": route.path,
        "httpMethod": route.method,
        "parameters": parameters,
    }
    if "body" in route.locations.values():  # even empty: "`to` is required" says more than "no body"
        translated["requestBody"] = {"content": {"application/json": {"properties": properties}}}
    return translated


def bedrock_value(value: Any, json_type: str) -> Any:
    """What Bedrock would send for `value`: a string, by the schema's type.

    A value whose type does not fit the schema is passed on unchanged, so that the edge validation
    refuses it with a 400 naming the field, as it would refuse it from Bedrock.
    """
    if json_type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if json_type == "array" and isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def tool_result(response: Mapping[str, Any]) -> dict[str, Any]:
    """The Bedrock response's answer as the tool's result, with `status_code` on errors."""
    try:
        inner = response["response"]
        status = int(inner["httpStatusCode"])
        body = json.loads(inner["responseBody"]["application/json"]["body"])
    except (KeyError, TypeError, ValueError):
        logger.exception("the resolver's response has no answer")
        return error_result(
            500,
            "internal_error",
            "The email function failed unexpectedly. If this was a send or reply, call listPendingEmails before "
            "trying again, so the email is not sent twice.",
        )
    result: dict[str, Any] = body if isinstance(body, dict) else {"result": body}
    if status >= 400:
        result = {**result, "status_code": status}
    return result


# -- the routes and the tools, from the OpenAPI document --------------------------------------------


def routes_from_openapi(document: Mapping[str, Any]) -> dict[str, Route]:
    """operationId -> Route, for every operation of an OpenAPI document (raw or simplified)."""
    components = document.get("components", {}).get("schemas", {})
    routes: dict[str, Route] = {}
    for path, path_item in document.get("paths", {}).items():
        for method, operation in path_item.items():
            locations: dict[str, str] = {}
            types: dict[str, str] = {}
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in _LOCATIONS:
                    locations[parameter["name"]] = parameter["in"]
                    types[parameter["name"]] = _json_type(parameter.get("schema", {}), components)
            for name, schema in body_schema(operation, components).get("properties", {}).items():
                locations[name] = "body"
                types[name] = _json_type(schema, components)
            routes[operation["operationId"]] = Route(method.upper(), path, locations, types)
    return routes


def tool_definitions(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The gateway target's tools: one per operation, named by its operationId.

    The input schema keeps what AgentCore's SchemaDefinition can hold (type, description, items,
    properties, required); limits such as 1 to 50 are in the descriptions, and the function checks them.
    """
    components = document.get("components", {}).get("schemas", {})
    tools: list[dict[str, Any]] = []
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            properties: dict[str, Any] = {}
            required: list[str] = []
            for parameter in operation.get("parameters", []):
                if parameter.get("in") not in _LOCATIONS:
                    continue
                schema = {**parameter.get("schema", {}), "description": parameter.get("description", "")}
                properties[parameter["name"]] = _schema_definition(schema, components)
                if parameter.get("required"):
                    required.append(parameter["name"])
            body = body_schema(operation, components)
            for name, schema in body.get("properties", {}).items():
                properties[name] = _schema_definition(schema, components)
            required.extend(name for name in body.get("required", []) if name not in required)
            input_schema: dict[str, Any] = {"type": "object", "properties": properties}
            if required:
                input_schema["required"] = required
            summary = str(operation.get("summary", "")).rstrip(".")
            tools.append(
                {
                    "name": operation["operationId"],
                    "description": f"{summary}. {operation.get('description', '')}".strip(),
                    "inputSchema": input_schema,
                }
            )
    return tools


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = schema.get("$ref")
    if isinstance(reference, str):
        return {**components[reference.rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _single(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema itself, or the one member of an optional field's `anyOf`, merged with its notes."""
    schema = _resolve(schema, components)
    members = [m for m in schema.get("anyOf", []) if isinstance(m, Mapping) and m.get("type") != "null"]
    if "type" not in schema and members:
        return {**_resolve(members[0], components), **{k: v for k, v in schema.items() if k != "anyOf"}}
    return schema


def _json_type(schema: Mapping[str, Any], components: Mapping[str, Any]) -> str:
    return str(_single(schema, components).get("type", "string"))


def body_schema(operation: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    """The operation's JSON request body schema, its `$ref` resolved; empty when it takes no body."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    return _resolve(content.get("schema", {}), components)


def _schema_definition(schema: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    schema = _single(schema, components)
    definition: dict[str, Any] = {"type": str(schema.get("type", "string"))}
    if schema.get("description"):
        definition["description"] = str(schema["description"])
    if isinstance(schema.get("items"), Mapping):
        definition["items"] = _schema_definition(schema["items"], components)
    if isinstance(schema.get("properties"), Mapping):
        definition["properties"] = {
            name: _schema_definition(value, components) for name, value in schema["properties"].items()
        }
        if schema.get("required"):
            definition["required"] = list(schema["required"])
    return definition
