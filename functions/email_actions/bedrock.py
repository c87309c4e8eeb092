"""The Bedrock Agents door: an action-group event in, an action-group response out.

The event names its operation by `apiPath` and `httpMethod`, and carries its arguments as lists of
`{name, type, value}` (path and query parameters, body properties), every value a string. This
module checks that shape, collects the arguments into one mapping and hands them to the tool core;
the request model parses the strings (`"10"`, `'["a@x.com"]'`). A response always echoes the call's
`actionGroup`, `apiPath` and `httpMethod`, as Bedrock matches them to the call it made.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from email_actions import core
from email_actions.answers import RESPONSE_BUDGET_BYTES, serialize
from email_actions.email_service import Caller
from email_actions.observability import AuditRecord, logger
from email_actions.operations import BY_ROUTE, OPERATIONS

# Bedrock's own limits on what it sends are far below this; anything longer is not Bedrock, and is
# refused before it can be echoed or quoted.
ECHO_LIMIT = 200  # characters of apiPath, httpMethod or actionGroup
# InvokeAgent's sessionId, as the bedrock-agent-runtime API defines it (2 to 100 characters).
SESSION_ID = re.compile(r"^[0-9a-zA-Z._:-]{2,100}$")


@dataclass(frozen=True, slots=True)
class ActionCall:
    """What an event asks for, once its shape is checked: an operation's arguments, or a refusal."""

    arguments: dict[str, Any]
    has_body: bool
    refusal: core.Answer | None = None


def audit_record(event: Any) -> AuditRecord:
    """The audit line's start: bounded values only, so an absurd event cannot make an absurd log line."""
    event = event if isinstance(event, dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    return AuditRecord(
        action=f"{_echo(event, 'httpMethod') or '?'} {_echo(event, 'apiPath') or '?'}",
        agent_id=_bounded_id(agent.get("id")),
        agent_alias=_bounded_id(agent.get("alias")),
        session_id=session_id(event),
    )


def answer_event(event: Any, call: core.Call) -> dict[str, Any]:
    """The action-group response to `event` (any value at all), within Bedrock's size limit."""
    answer = _answer(event, call)
    return within_limit(response(event, answer))


def _answer(event: Any, call: core.Call) -> core.Answer:
    if not isinstance(event, dict):
        return core.error_answer(400, "invalid_request", "The action request is not a JSON object.")
    problem = _shape_problem(event)
    if problem is not None:
        return problem
    method, path = event["httpMethod"].upper(), event["apiPath"]
    operation = BY_ROUTE.get((method, path))
    if operation is None:
        return core.unknown_operation(f"{event['httpMethod']} {path}", [f"{o.method} {o.path}" for o in OPERATIONS])
    collected = _arguments(event)
    if collected.refusal is not None:
        return collected.refusal
    if not collected.has_body and operation.method == "POST" and operation.required_arguments():
        path_only = all(operation.location(name) == "path" for name in operation.required_arguments())
        if not path_only:
            return core.no_body(operation)
    return core.run(operation, collected.arguments, call)


def caller(event: Any) -> Caller:
    """Who asks, for exactly-once: the agent in one conversation.

    Without a session id (an event that is not from Bedrock Agents, which always sends one) there is
    no conversation to tell a retry from a new request: the scope is left empty and the caller of
    `caller` gives the call a scope of its own.
    """
    event = event if isinstance(event, dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    agent_id = agent.get("id") if isinstance(agent.get("id"), str) else ""
    return Caller(agent_id=core.caller_id(agent_id) if agent_id else "", session_id=session_id(event) or "")


def session_id(event: dict[str, Any]) -> str | None:
    """The event's sessionId when it is one Bedrock could have sent, else None."""
    value = event.get("sessionId")
    return value if isinstance(value, str) and SESSION_ID.fullmatch(value) else None


def _shape_problem(event: dict[str, Any]) -> core.Answer | None:
    for key in ("apiPath", "httpMethod"):
        if not isinstance(event.get(key), str) or not event[key]:
            return core.error_answer(400, "invalid_request", f"The action request has no {key}.")
    if not isinstance(event.get("actionGroup", ""), str):  # the answer must echo it as a string
        return core.error_answer(400, "invalid_request", "The action request's actionGroup is not a string.")
    for key in ("apiPath", "httpMethod", "actionGroup"):
        length = len(event.get(key, ""))
        if length > ECHO_LIMIT:
            return core.error_answer(
                400,
                "invalid_request",
                f"The action request's {key} is {length:,} characters long; no action has one over {ECHO_LIMIT}.",
            )
    if event.get("sessionId") is not None and session_id(event) is None:
        return core.error_answer(
            400,
            "invalid_request",
            "The action request's sessionId is not a Bedrock session id (2 to 100 letters, digits, '.', '_', ':' "
            "or '-'). It scopes exactly-once sending, so the request was not run.",
        )
    return None


def _arguments(event: dict[str, Any]) -> ActionCall:
    """Parameters and body properties as one mapping of names to their string values."""
    arguments: dict[str, Any] = {}
    refusal = _collect(event.get("parameters"), "parameter", arguments)
    if refusal is not None:
        return ActionCall({}, False, refusal)
    body = event.get("requestBody")
    if body is None:
        return ActionCall(arguments, False)
    content = body.get("content") if isinstance(body, dict) else None
    media = content.get("application/json") if isinstance(content, dict) else None
    if not isinstance(media, dict):
        refusal = core.error_answer(
            400, "invalid_request", "The request body must be application/json with a list of properties."
        )
        return ActionCall({}, True, refusal)
    return ActionCall(arguments, True, _collect(media.get("properties"), "body field", arguments))


def _collect(items: Any, kind: str, into: dict[str, Any]) -> core.Answer | None:
    if items is None:
        return None
    if not isinstance(items, list):
        return core.error_answer(400, "invalid_request", f"The {kind}s must be a list.")
    if len(items) + len(into) > core.MAX_ARGUMENTS:
        return core.error_answer(
            400, "invalid_request", f"The request has {len(items):,} {kind}s; no action takes more than a few."
        )
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return core.error_answer(400, "invalid_request", f"Every {kind} needs a name and a value.")
        name = item["name"]
        refusal = core.check_argument_name(name, kind)
        if refusal is not None:
            return refusal
        if name in into:
            return core.error_answer(400, "invalid_request", f"The {kind} `{name}` was given twice; give it once.")
        value = item.get("value")
        if value is None:  # once turned into the text "null" and sent as a subject
            return core.error_answer(
                400,
                "invalid_input",
                f"The {kind} `{name}` has no value. Give its value, or leave it out.",
                fields=[name],
            )
        if not isinstance(value, str):  # Bedrock sends every value as text; the models parse it
            return core.error_answer(
                400,
                "invalid_input",
                f"The {kind} `{name}` is {_kind_of(value)}, which it cannot be: give it as the action describes "
                "it (text, a whole number, or a list of addresses). Correct the request and call again.",
                fields=[name],
            )
        into[name] = value
    return None


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else "not text"


# -- the response -------------------------------------------------------------------------------


def response(event: Any, answer: core.Answer) -> dict[str, Any]:
    """The action-group response carrying `answer`.

    A value that is not a string, or is longer than ECHO_LIMIT, cannot be Bedrock's (its names and
    paths are short), so no echo could match it: it is answered with "" instead of being repeated.
    """
    event = event if isinstance(event, dict) else {}
    return {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": _echo(event, "actionGroup"),
            "apiPath": _echo(event, "apiPath"),
            "httpMethod": _echo(event, "httpMethod"),
            "httpStatusCode": answer.status_code,
            "responseBody": {"application/json": {"body": serialize(answer.body)}},
        },
    }


def within_limit(response: dict[str, Any]) -> dict[str, Any]:
    """The last guard: a response Bedrock could not take gets a short answer that says what to do.

    The use cases fit every answer well below this, so it is not expected to act; it measures what
    Bedrock receives in the worst case (the whole response escaped to ASCII) and keeps the body
    encodable as UTF-8 (a lone surrogate would break the runtime's own serialization).
    """
    inner = response["response"]
    content = inner["responseBody"]["application/json"]
    content["body"] = content["body"].encode("utf-8", "replace").decode("utf-8")
    size = len(json.dumps(response))
    if size <= RESPONSE_BUDGET_BYTES:
        return response
    logger.error("answer over the size limit", extra={"response_bytes": size})
    inner["httpStatusCode"] = 500
    content["body"] = serialize(core.too_large(size).body)
    return response


def _echo(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    return value if isinstance(value, str) and len(value) <= ECHO_LIMIT else ""


def _bounded_id(value: object) -> str | None:
    return core.caller_id(value) if isinstance(value, str) and value else None
