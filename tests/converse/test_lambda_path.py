"""Deployed, a tool call is a synchronous Lambda invoke of the action-group function with the event
Bedrock Agents would send. The Lambda client is a real client with botocore's Stubber."""

from __future__ import annotations

import copy
import json

import pytest

from converse_agent.errors import ChatError
from converse_agent.executors import InProcessExecutor, LambdaExecutor
from converse_agent.tools import build_event, load_operations, tool_result
from devtools.multimail_standin import StandIn
from tests.converse.conftest import FUNCTION, StubbedLambda, send_answer


def test_a_tool_call_invokes_the_function_with_the_exact_bedrock_event(lambda_api: StubbedLambda) -> None:
    # GIVEN the deployed function answers like the action group does
    lambda_api.answers(send_answer({"status": "pending_send_approval"}))
    event = build_event(
        load_operations()["sendEmail"],
        {"to": ["ana@example.com", "li@example.org"], "subject": "Agenda", "body": "1. Budget"},
        session_id="converse-0001",
        input_text="Send the agenda to Ana and Li.",
    )
    # WHEN the tool runs through the Lambda API
    response = LambdaExecutor(lambda_api.client, FUNCTION)(event)
    # THEN the function got the Bedrock Agents event, every value a string
    assert lambda_api.payloads == [
        {
            "messageVersion": "1.0",
            "agent": {"name": "converse-agent", "id": "converse-local", "alias": "converse-local", "version": "local"},
            "inputText": "Send the agenda to Ana and Li.",
            "sessionId": "converse-0001",
            "actionGroup": "EmailActions",
            "apiPath": "/send",
            "httpMethod": "POST",
            "requestBody": {
                "content": {
                    "application/json": {
                        "properties": [
                            {"name": "to", "type": "array", "value": '["ana@example.com", "li@example.org"]'},
                            {"name": "subject", "type": "string", "value": "Agenda"},
                            {"name": "body", "type": "string", "value": "1. Budget"},
                        ]
                    }
                }
            },
            "sessionAttributes": {},
            "promptSessionAttributes": {},
        }
    ]
    # AND its answer is the tool result
    result = tool_result("t1", response)["toolResult"]
    assert result["status"] == "success"
    assert result["content"] == [{"json": {"status": "pending_send_approval"}}]
    lambda_api.stubber.assert_no_pending_responses()


def test_the_deployed_path_gives_the_answer_the_handler_gives(lambda_api: StubbedLambda, function_env: StandIn) -> None:
    # GIVEN the handler's own answer to an inbox call, returned by the (stubbed) Lambda API
    event = build_event(load_operations()["listInbox"], {"limit": 2}, session_id="s-2", input_text="What's new?")
    local = InProcessExecutor()(copy.deepcopy(event))
    lambda_api.answers(json.dumps(local).encode())
    # WHEN the same call goes through the Lambda API
    remote = LambdaExecutor(lambda_api.client, FUNCTION)(event)
    # THEN the model gets the same result either way
    assert lambda_api.payloads == [event]
    assert tool_result("t", remote) == tool_result("t", local)
    assert tool_result("t", remote)["toolResult"]["content"][0]["json"]["count"] == 2


def test_a_crashed_function_is_an_error_result_that_warns_against_resending(lambda_api: StubbedLambda) -> None:
    # GIVEN the function timed out (Lambda reports FunctionError with its own payload)
    crash = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 30.00 seconds"}
    lambda_api.answers(json.dumps(crash).encode(), function_error="Unhandled")
    event = build_event(
        load_operations()["replyToEmail"], {"email_id": "em_1", "body": "Yes."}, session_id="s", input_text="x"
    )
    # WHEN a reply runs through it
    result = tool_result("t", LambdaExecutor(lambda_api.client, FUNCTION)(event))["toolResult"]
    # THEN the model hears it failed, and to check the pending emails before sending again
    assert result["status"] == "error"
    body = result["content"][0]["json"]
    assert body["error"] == "function_error"
    assert "Sandbox.Timedout" in body["message"]
    assert "listPendingEmails" in body["message"]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ResourceNotFoundException", 404, "ResourceNotFoundException: Function not found"),
        ("AccessDeniedException", 403, "AccessDeniedException"),
        ("UnrecognizedClientException", 403, "credentials were refused"),
    ],
)
def test_a_lambda_api_error_ends_the_chat_with_a_clear_message(
    lambda_api: StubbedLambda, code: str, status: int, expected: str
) -> None:
    lambda_api.stubber.add_client_error(
        "invoke", service_error_code=code, service_message="Function not found", http_status_code=status
    )
    event = build_event(
        load_operations()["sendEmail"], {"to": ["a@x.com"], "subject": "S", "body": "B"}, session_id="s", input_text=""
    )
    with pytest.raises(ChatError) as raised:
        LambdaExecutor(lambda_api.client, FUNCTION)(event)
    message = str(raised.value)
    assert message.startswith(f"Could not invoke the email function {FUNCTION}: ")
    assert expected in message
    # AND for a send, the person is told it may need checking before sending again
    assert "list the pending emails" in message
