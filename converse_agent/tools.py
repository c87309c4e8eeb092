"""The action group's OpenAPI schema, read as Converse tools, and the bridge between the two shapes.

One tool per operation: its `operationId` is the tool's name, its `description` the tool's
description, and its path/query parameters and JSON body fields merge into one JSON Schema object.
A tool call goes back the other way, into the event Bedrock Agents would send to the action-group
function: every value a string, path and query values under `parameters`, body fields under
`requestBody`. The function's answer becomes a `toolResult`. Nothing here knows the operations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "openapi" / "email_actions.json"
TEMPLATE_PATH = ROOT / "template.yaml"

# Used only when template.yaml (the single source of the default model) cannot be read.
FALLBACK_MODEL_ID = "us.amazon.nova-2-lite-v1:0"

ACTION_GROUP = "EmailActions"  # the template's ActionGroupName
AGENT = {"name": "converse-agent", "id": "converse-local", "alias": "converse-local", "version": "local"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# JSON Schema keywords passed on to the model; the rest (nullable, additionalProperties, examples,
# OpenAPI extensions...) is OpenAPI-only or not accepted by every Converse model, and is dropped.
KEPT_KEYWORDS = frozenset(
    {"type", "description", "items", "enum", "default", "minimum", "maximum", "pattern"}
    | {"minLength", "maxLength", "minItems", "maxItems"}
)


class SchemaError(ValueError):
    """The OpenAPI document cannot be turned into tools."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    location: str  # "path", "query" or "body"
    type: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One action of the group, as a tool: its name, where it lives, and its merged input schema."""

    name: str
    description: str
    path: str
    method: str
    fields: tuple[Field, ...]
    has_body: bool
    input_schema: dict[str, Any]
    requires_confirmation: bool

    def tool_spec(self) -> dict[str, Any]:
        return {
            "toolSpec": {"name": self.name, "description": self.description, "inputSchema": {"json": self.input_schema}}
        }


def load_operations(path: Path = SCHEMA_PATH) -> dict[str, Operation]:
    """The operations of the OpenAPI document at `path`, by operationId, in document order."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SchemaError(f"Cannot read the action group schema {path}: {error}") from None
    return operations_from(document)


def operations_from(document: Mapping[str, Any]) -> dict[str, Operation]:
    operations: dict[str, Operation] = {}
    for path, item in document.get("paths", {}).items():
        for method, spec in item.items():
            if method not in HTTP_METHODS:
                continue
            operation = _operation(path, method, spec)
            if operation.name in operations:
                raise SchemaError(f"Two operations are named {operation.name}.")
            operations[operation.name] = operation
    if not operations:
        raise SchemaError("The action group schema has no operations.")
    return operations


def tool_config(operations: Mapping[str, Operation]) -> dict[str, Any]:
    """The Converse `toolConfig`: one toolSpec per operation."""
    return {"tools": [operation.tool_spec() for operation in operations.values()]}


def _operation(path: str, method: str, spec: Mapping[str, Any]) -> Operation:
    name = spec.get("operationId")
    if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        raise SchemaError(f"{method.upper()} {path} needs an operationId usable as a tool name, not {name!r}.")
    description = spec.get("description") or spec.get("summary")
    if not description:
        raise SchemaError(f"{name} has no description: the model chooses tools by it.")
    properties: dict[str, Any] = {}
    required: list[str] = []
    fields: list[Field] = []

    def add(field_name: str, location: str, schema: Mapping[str, Any], description: str | None, needed: bool) -> None:
        if field_name in properties:
            raise SchemaError(f"{name}: `{field_name}` is both a parameter and a body field.")
        clean = _clean(schema)
        if description and "description" not in clean:
            clean["description"] = description
        properties[field_name] = clean
        fields.append(Field(field_name, location, str(clean.get("type", "string"))))
        if needed:
            required.append(field_name)

    for parameter in spec.get("parameters", []):
        if parameter.get("in") in ("path", "query"):
            needed = bool(parameter.get("required")) or parameter["in"] == "path"
            add(parameter["name"], parameter["in"], parameter.get("schema", {}), parameter.get("description"), needed)
    body = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        body_required = set(body.get("required", []))
        for field_name, schema in body.get("properties", {}).items():
            add(field_name, "body", schema, None, field_name in body_required)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    return Operation(
        name=name,
        description=description,
        path=path,
        method=method.upper(),
        fields=tuple(fields),
        has_body=body is not None,
        input_schema=input_schema,
        requires_confirmation=spec.get("x-requireConfirmation") == "ENABLED",
    )


def _clean(schema: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in KEPT_KEYWORDS:
            continue
        if key == "items" and isinstance(value, Mapping):
            value = _clean(value)
        elif isinstance(value, float) and value.is_integer() and schema.get("type") == "integer":
            value = int(value)  # Pydantic writes integer bounds as 1.0
        clean[key] = value
    return clean


# -- a tool call, as the action-group event -------------------------------------------------------


def build_event(
    operation: Operation, tool_input: Mapping[str, Any], *, session_id: str, input_text: str
) -> dict[str, Any]:
    """The Bedrock Agents action-group event for this tool call, exactly as Bedrock would send it.

    Values are strings (arrays and objects as JSON text); a null value is left out. A name the
    schema does not know is passed on, to the body when there is one, so that the function's own
    validation answers it the way it answers Bedrock.
    """
    known = {field.name: field for field in operation.fields}
    parameters: list[dict[str, str]] = []
    properties: list[dict[str, str]] = []
    for name, value in tool_input.items():
        if value is None:
            continue
        field = known.get(name) or Field(name, "body" if operation.has_body else "query", _json_type(value))
        item = {"name": name, "type": field.type, "value": _as_text(value)}
        (properties if field.location == "body" else parameters).append(item)
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
    if operation.has_body:
        event["requestBody"] = {"content": {"application/json": {"properties": properties}}}
    return event


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
