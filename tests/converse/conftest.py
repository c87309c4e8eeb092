"""A scripted model: a real bedrock-runtime client whose Converse answers come from botocore's Stubber.

The client still validates every request against the Converse API model (message shapes, toolConfig,
guardrailConfig), so a request the real service would reject fails here too. No network: the Stubber
answers before anything is sent.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from devtools.multimail_standin import StandIn
from tests.conftest import check_bedrock_response, reset_function_state

MODEL_ID = "test.scripted-model-v1:0"
FUNCTION = "email-agent-EmailActionsFunction-AbC123"


class ScriptedModel:
    """Queue the model's turns with `calls_tool` / `says` / `fails`; read what it was sent in `requests`."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "bedrock-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.stubber = Stubber(self.client)
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.client.meta.events.register("before-parameter-build.bedrock-runtime.Converse", self._capture)
        self.stubber.activate()

    def _capture(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(copy.deepcopy(params))

    def calls_tool(self, name: str, tool_input: Mapping[str, Any], text: str = "") -> str:
        tool_use_id = f"tooluse_{next(self._ids)}"
        content: list[dict[str, Any]] = [{"text": text}] if text else []
        content.append({"toolUse": {"toolUseId": tool_use_id, "name": name, "input": dict(tool_input)}})
        self._answer(content, "tool_use")
        return tool_use_id

    def says(self, text: str, stop_reason: str = "end_turn") -> None:
        self._answer([{"text": text}], stop_reason)

    def fails(self, code: str, message: str, status: int) -> None:
        self.stubber.add_client_error(
            "converse", service_error_code=code, service_message=message, http_status_code=status
        )

    def _answer(self, content: list[dict[str, Any]], stop_reason: str) -> None:
        response = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120},
            "metrics": {"latencyMs": 250},
        }
        self.stubber.add_response("converse", response)

    def last_tool_results(self, request: int) -> dict[str, dict[str, Any]]:
        """The toolResult blocks of the last message of request number `request`, by toolUseId."""
        message = self.requests[request]["messages"][-1]
        assert message["role"] == "user"
        return {b["toolResult"]["toolUseId"]: b["toolResult"] for b in message["content"] if "toolResult" in b}


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    scripted = ScriptedModel()
    yield scripted
    scripted.stubber.deactivate()


class RecordingExecutor:
    """The real in-process executor, with each event kept and each answer checked against the contract."""

    def __init__(self) -> None:
        from converse_agent.executors import InProcessExecutor

        self._inner = InProcessExecutor()
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(copy.deepcopy(event))
        response = self._inner(event)
        check_bedrock_response(event, response)
        return response


@pytest.fixture
def executor(function_env: StandIn) -> RecordingExecutor:
    return RecordingExecutor()


@pytest.fixture
def aws_env(aws_credentials: None) -> Iterator[None]:
    """Fake credentials and a Region for code that builds its own AWS clients (the CLI's local mode)."""
    reset_function_state()
    yield
    reset_function_state()


def send_answer(body: dict[str, Any]) -> bytes:
    """The deployed function's answer to POST /send, as the Lambda API returns it."""
    response = {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": "EmailActions",
            "apiPath": "/send",
            "httpMethod": "POST",
            "httpStatusCode": 200,
            "responseBody": {"application/json": {"body": json.dumps(body)}},
        },
    }
    return json.dumps(response).encode()


class StubbedLambda:
    """The Lambda API with `invoke` stubbed: queue answers with `answers`; read what was sent in `payloads`."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.stubber = Stubber(self.client)
        self.payloads: list[dict[str, Any]] = []
        self.client.meta.events.register("before-parameter-build.lambda.Invoke", self._capture)
        self.stubber.activate()

    def _capture(self, params: dict[str, Any], **_: Any) -> None:
        self.payloads.append(json.loads(copy.deepcopy(params["Payload"])))

    def answers(self, payload: bytes, function_error: str | None = None) -> None:
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        }
        if function_error:
            response["FunctionError"] = function_error
        expected = {"FunctionName": FUNCTION, "InvocationType": "RequestResponse", "Payload": ANY}
        self.stubber.add_response("invoke", response, expected)


@pytest.fixture
def lambda_api() -> Iterator[StubbedLambda]:
    stubbed = StubbedLambda()
    yield stubbed
    stubbed.stubber.deactivate()
