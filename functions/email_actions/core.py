"""The tool core: one call of one operation, from its arguments to its answer, whichever door it came in by.

A door (bedrock.py for action-group events, gateway.py for AgentCore Gateway tool calls) finds the
operation and collects its arguments as a plain mapping; `run` does the rest: it validates the
arguments against the operation's request model, builds the use case's collaborators for this call,
runs the use case and maps every failure to an answer once. Nothing here knows an event's shape.

Each call carries its own `Call` (deadline, caller, audit record) from the door to the use case as
an argument: no per-call state lives in a module, a class or a resolver, so one process may serve
many calls at once (the MCP server, a Converse loop with parallel tool use).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError

from email_actions.answers import cut_to_cost, neutralise
from email_actions.email_service import Caller, EmailService
from email_actions.errors import EmailActionError, UpstreamError
from email_actions.idempotency import DynamoDBOnceGuard
from email_actions.multimail import ApiKeyProvider, Deadline, MultiMailClient
from email_actions.observability import AuditRecord, logger
from email_actions.operations import OPERATIONS, Operation
from email_actions.oversight import DefaultMailbox
from email_actions.settings import get_settings

MAX_ARGUMENT_NAME_CHARS = 64  # the longest argument name of any operation is 11 characters
MAX_ARGUMENTS = 50  # arguments of one call; the largest operation takes 6
PROBLEM_CHARS = 240  # one validation problem, as the answer states it
PROBLEMS_SHOWN = 6
UPSTREAM_TEXT_COST = 4_000  # the most MultiMail's own error text may add to an answer
MAX_CALLER_ID_CHARS = 100  # longer ids are kept whole in a hash, never dropped (see `caller_id`)
_PLAIN_ID = re.compile(r"^[\w.:/#-]+$")

DO_NOT_RESEND = "Do NOT send it again now: call listPendingEmails to see whether it was queued, and tell the user."
UNEXPECTED_MESSAGE = (
    "The email function failed unexpectedly. If this was a send or reply, call listPendingEmails before trying "
    "again, so the email is not sent twice."
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a call answers: an HTTP-like status and a JSON object written for a model."""

    status_code: int
    body: dict[str, Any]


@dataclass(slots=True)
class Call:
    """One call's own context, passed down explicitly."""

    deadline: Deadline
    caller: Caller
    audit: AuditRecord
    lambda_context: Any = None  # the Lambda context, for the exactly-once record's in-progress expiry


def caller_id(value: str) -> str:
    """An identifier as exactly-once scopes use it: whole when short and plain, else a hash of all of it.

    Cutting or dropping a long id would give two callers one scope; a hash keeps them apart.
    """
    if len(value) <= MAX_CALLER_ID_CHARS and _PLAIN_ID.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def error_answer(status_code: int, code: str, message: str, **details: object) -> Answer:
    untrusted = details.get("untrusted")
    if isinstance(untrusted, dict):  # MultiMail's words may quote the email: neutralised and bounded
        details["untrusted"] = {
            key: cut_to_cost(neutralise(str(value), multiline=True), UPSTREAM_TEXT_COST)
            for key, value in untrusted.items()
        }
    return Answer(status_code, {"error": code, "message": message, **details})


def unknown_operation(described: str, names: list[str]) -> Answer:
    return error_answer(404, "unknown_action", f"There is no action {described}. The actions are: {', '.join(names)}.")


def check_argument_names(arguments: dict[str, Any], kind: str = "argument") -> Answer | None:
    """Refuse absurd argument lists before any name is echoed: too many, or a name no operation has."""
    if len(arguments) > MAX_ARGUMENTS:
        return error_answer(
            400, "invalid_request", f"The request has {len(arguments):,} {kind}s; no action takes more than a few."
        )
    for name in arguments:
        refusal = check_argument_name(name, kind)
        if refusal is not None:
            return refusal
    return None


def check_argument_name(name: str, kind: str) -> Answer | None:
    """A name longer than any operation's is refused, and shown only in part."""
    if len(name) <= MAX_ARGUMENT_NAME_CHARS:
        return None
    shown = repr(name[:37] + "...")
    return error_answer(
        400,
        "invalid_request",
        f"One {kind} is named {shown} ({len(name):,} characters); no action has a field named so.",
    )


def run(operation: Operation, arguments: dict[str, Any], call: Call) -> Answer:
    """Validate, run the use case, and answer; never raises."""
    try:
        request = operation.request.model_validate(arguments)
    except ValidationError as error:
        problems, fields = describe_validation(error, operation)
        return error_answer(
            400,
            "invalid_input",
            f"The request was not sent: {problems}. Correct the request and call again.",
            fields=fields,
        )
    try:
        body = operation.use_case(_service(call), request)
    except EmailActionError as error:
        message = error.message
        if isinstance(error, UpstreamError) and error.email_may_exist:
            message += f" {DO_NOT_RESEND}"
        logger.warning("action failed", extra={"error_code": error.code, "status_code": error.status_code})
        return error_answer(error.status_code, error.code, message, **error.details())
    except Exception:
        logger.exception("unexpected error")
        return error_answer(500, "internal_error", UNEXPECTED_MESSAGE)
    call.audit.mailbox_id = body.get("mailbox_id")
    call.audit.email_id = body.get("email_id")
    if operation.sends:
        call.audit.recipient_count = request.recipient_count()
    return Answer(200, body)


# -- the use case's collaborators, per execution environment and per call -------------------------


@cache
def _keys(secret_id: str) -> ApiKeyProvider:
    return ApiKeyProvider(secret_id)


@cache
def _default_mailbox(configured: str | None) -> DefaultMailbox:
    """Kept per execution environment, like the key: the key's only mailbox is looked up once."""
    return DefaultMailbox(configured)


def forget_collaborators() -> None:
    """Drop the key provider and the default mailbox (a new execution environment's, in tests and local runs)."""
    _keys.cache_clear()
    _default_mailbox.cache_clear()


def _service(call: Call) -> EmailService:
    settings = get_settings()
    client = MultiMailClient(
        settings.api_url, _keys(settings.secret_id), call.deadline, on_status=call.audit.record_upstream
    )
    guard = (
        DynamoDBOnceGuard(settings.idempotency_table, lambda_context=call.lambda_context, deadline=call.deadline)
        if settings.idempotency_table
        else None
    )
    return EmailService(
        client, _default_mailbox(settings.default_mailbox_id), caller=call.caller, guard=guard, deadline=call.deadline
    )


# -- validation problems, in words a model can act on -------------------------------------------


def describe_validation(error: ValidationError, operation: Operation) -> tuple[str, list[str]]:
    problems: list[str] = []
    fields: list[str] = []
    for item in error.errors()[:PROBLEMS_SHOWN]:
        location = [str(part) for part in item.get("loc", ())]
        named = [str(name) for name in (item.get("ctx") or {}).get("fields", ())]  # a check across fields
        where = (location[0] + "".join(f"[{part}]" for part in location[1:])) if location else ""
        if item.get("type") == "extra_forbidden":
            problem = f"`{where}` is not a parameter of this action"
        elif item.get("type") == "missing":
            problem = f"`{where}` is required"
        else:
            about = f"`{where}`" if where else _listed(named) if named else "the request"
            problem = f"{about}: {str(item.get('msg', 'invalid')).removeprefix('Value error, ')}"
        named = named or [location[0] if location else "request"]
        problems.append(problem if len(problem) <= PROBLEM_CHARS else problem[: PROBLEM_CHARS - 3] + "...")
        fields.extend(name for name in named if name not in fields)
    return "; ".join(problems), fields


def no_body(operation: Operation) -> Answer:
    """An action with a body, called without one: say what it needs."""
    named = operation.required_arguments()
    verb = "is" if len(named) == 1 else "are"
    return error_answer(
        400,
        "invalid_input",
        f"The request was not sent: the request has no body; {_listed(named)} {verb} required. Correct the "
        "request and call again.",
        fields=named or ["request body"],
    )


def _listed(names: list[str]) -> str:
    quoted_names = [f"`{name}`" for name in names]
    return ", ".join(quoted_names[:-1]) + " and " + quoted_names[-1] if len(names) > 1 else "".join(quoted_names)


def operation_names() -> list[str]:
    return [operation.name for operation in OPERATIONS]


def too_large(size: int) -> Answer:
    """The answer for one that would not fit what the caller can take (not expected: see answers.py)."""
    return error_answer(
        500,
        "answer_too_large",
        f"The answer was too large for the agent ({size:,} bytes), so it was left out. Call again for less: a "
        "smaller limit for a list, or readEmail with a body_offset to read a long body in parts. If this was a send "
        "or reply, it may have been queued: do NOT send it again; call listPendingEmails.",
    )
