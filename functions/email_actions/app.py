"""The Lambda entry point: which door a call came in by, its deadline and its audit line.

Two shapes reach this function. An AgentCore Gateway (and `make mcp`, and the Converse loop) sends
a tool's arguments and names the tool in the client context; Bedrock Agents sends an action-group
event. Each shape has its door (gateway.py, bedrock.py); both hand an operation and its arguments to
the tool core (core.py), which validates them, runs the use case and maps every failure to an
answer. `lambda_handler` answers every input whatsoever, and never raises.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from email_actions import bedrock, core, gateway, snapstart
from email_actions.email_service import Caller
from email_actions.multimail import Deadline
from email_actions.observability import logger

RESPONSE_RESERVE_SECONDS = 1.0  # time kept back from the Lambda deadline to answer and log
LOCAL_BUDGET_SECONDS = 25.0  # when there is no Lambda context (local runs)

snapstart.register()  # with SnapStart on, the runtime runs its hooks around the snapshot


@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Bedrock Agent events, and AgentCore Gateway tool calls (told apart by the client context)."""
    started = time.perf_counter()
    custom = gateway.client_context_custom(context)
    try:
        if custom is not None:
            call = _call(gateway.caller(custom), gateway.audit_record(custom), context)
            tool_result = gateway.answer_tool_call(event, custom, call)
            call.audit.emit(int(tool_result.get("status_code", 200)), (time.perf_counter() - started) * 1000)
            return tool_result
        call = _call(bedrock.caller(event), bedrock.audit_record(event), context)
        response = bedrock.answer_event(event, call)
        call.audit.emit(response["response"]["httpStatusCode"], (time.perf_counter() - started) * 1000)
        return response
    except Exception:  # a door itself failed (the core never raises): the caller still gets an answer
        logger.exception("the entry point failed")
        failed = core.error_answer(500, "internal_error", core.UNEXPECTED_MESSAGE)
        return gateway.result(failed) if custom is not None else bedrock.response(event, failed)


def _call(caller: Caller, audit: Any, context: Any) -> core.Call:
    remaining = context.get_remaining_time_in_millis() / 1000 if context else LOCAL_BUDGET_SECONDS
    if not caller.session_id:
        # No conversation to tell a retry from a new request: this call is a scope of its own, so it
        # can neither block nor replay another caller's send (`#` never occurs in a session id).
        caller = Caller(agent_id=caller.agent_id, session_id=f"#invocation/{uuid.uuid4().hex}")
    return core.Call(Deadline.in_seconds(remaining - RESPONSE_RESERVE_SECONDS), caller, audit, context)
