"""Bedrock Agents events for the action group: the fixtures in `events/`, copies with a field changed,
the operations the function offers, and one call of the real handler.

The demo, `make invoke`, the tests and the chat build their events here, so that they build them the
same way. Put `functions/` on sys.path (as the make targets and pytest do) before `call_handler`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from devtools.lambda_context import LocalLambdaContext

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
HANDLER = "email_actions.app.lambda_handler"


def load_event(name: str) -> dict[str, Any]:
    """The fixture `events/<name>.json`."""
    return read_event(EVENTS / f"{name}.json")


def read_event(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def fixture_names() -> list[str]:
    return sorted(path.stem for path in EVENTS.glob("*.json"))


def _copy(event: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(event))
    return copy


def with_params(event: dict[str, Any], **values: str) -> dict[str, Any]:
    """A copy of `event` with parameters set (added or replaced), as Bedrock would send them."""
    copy = _copy(event)
    params = [p for p in copy.get("parameters", []) if p["name"] not in values]
    params += [{"name": k, "type": "string", "value": v} for k, v in values.items()]
    copy["parameters"] = params
    return copy


def with_body(event: dict[str, Any], **values: str) -> dict[str, Any]:
    """A copy of `event` with request-body properties set (added or replaced)."""
    copy = _copy(event)
    media = copy.setdefault("requestBody", {"content": {"application/json": {"properties": []}}})
    props = media["content"]["application/json"]["properties"]
    props[:] = [p for p in props if p["name"] not in values]
    props += [{"name": k, "type": "string", "value": v} for k, v in values.items()]
    return copy


def said(event: dict[str, Any], words: str) -> dict[str, Any]:
    """A copy of `event` in which the user said `words` (the event's inputText)."""
    copy = _copy(event)
    copy["inputText"] = words
    return copy


# -- the operations: the function's own table, never listed by hand ----------------------------------


class Operation(NamedTuple):
    method: str  # as Bedrock sends it in `httpMethod`: upper case
    path: str  # as Bedrock sends it in `apiPath`: the template, e.g. /emails/{email_id}
    operation_id: str


def operations() -> list[Operation]:
    """Every action, from the operation table (email_actions.operations), in its order."""
    from email_actions.operations import OPERATIONS

    return [Operation(operation.method, operation.path, operation.name) for operation in OPERATIONS]


def operation_of(event: Mapping[str, Any]) -> Operation | None:
    """The operation an event calls, or None when its method and path are not an action."""
    wanted = (event.get("httpMethod"), event.get("apiPath"))
    return next((op for op in operations() if (op.method, op.path) == wanted), None)


# -- one call of the real handler ------------------------------------------------------------------


def call_handler(event: dict[str, Any], *, timeout_seconds: float = 30.0) -> dict[str, Any]:
    """One invocation of the real handler, with a Lambda-like context (30 s budget by default)."""
    from email_actions.app import lambda_handler

    response: dict[str, Any] = lambda_handler(event, LocalLambdaContext(timeout_seconds=timeout_seconds))
    return response


def response_body(response: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, parsed body) of a Bedrock response."""
    inner = response["response"]
    body = json.loads(inner["responseBody"]["application/json"]["body"])
    return int(inner["httpStatusCode"]), body if isinstance(body, dict) else {"body": body}
