"""Where a tool call runs: the action-group handler in this process, or the deployed function.

Both take the Bedrock Agents event and give back the function's Bedrock response, so validation,
idempotency, oversight and the audit line are those of the action group itself. Deployed, the
function is invoked through the Lambda API with the caller's AWS credentials: the MultiMail key
stays in Secrets Manager, read by the function.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from converse_agent.errors import ChatError, describe_aws_error

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from devtools.multimail_standin import StandIn

Executor = Callable[[dict[str, Any]], dict[str, Any]]


class InProcessExecutor:
    """Runs `email_actions.app.lambda_handler` here, with a Lambda-like context and deadline."""

    def __init__(self, timeout_seconds: float = 30.0) -> None:
        from devtools.local_env import ensure_function_importable

        ensure_function_importable()
        import email_actions.app  # noqa: F401 -- a cold start here, not in the first tool call

        self._timeout = timeout_seconds

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        from devtools.events import call_handler

        return call_handler(event, timeout_seconds=self._timeout)


class LambdaExecutor:
    """Invokes the deployed action-group function synchronously, with the event Bedrock would send."""

    def __init__(self, client: LambdaClient, function_name: str) -> None:
        self._client = client
        self.function_name = function_name

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self._client.invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
            payload = answer["Payload"].read()
        except (ClientError, BotoCoreError) as error:
            message = f"Could not invoke the email function {self.function_name}: {describe_aws_error(error)}"
            if event.get("httpMethod") == "POST":
                message += " If this was a send or reply, list the pending emails before sending it again."
            raise ChatError(message) from None
        if answer.get("FunctionError"):
            return function_failed(event, _error_type(payload))
        try:
            response: dict[str, Any] = json.loads(payload)
        except ValueError:
            return function_failed(event, "an answer that is not JSON")
        return response


def function_failed(event: dict[str, Any], what: str) -> dict[str, Any]:
    """A Bedrock-shaped error answer for a function that crashed or timed out."""
    message = (
        f"The email function failed ({what}). If this was a send or reply, call listPendingEmails before trying "
        "again, so the email is not sent twice."
    )
    return {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": event.get("actionGroup", ""),
            "apiPath": event.get("apiPath", ""),
            "httpMethod": event.get("httpMethod", ""),
            "httpStatusCode": 502,
            "responseBody": {"application/json": {"body": json.dumps({"error": "function_error", "message": message})}},
        },
    }


def _error_type(payload: bytes) -> str:
    try:
        return str(json.loads(payload).get("errorType") or "an unhandled error")
    except (ValueError, AttributeError):
        return "an unhandled error"


@contextmanager
def local_environment(region: str) -> Iterator[StandIn]:
    """The deployed configuration, on this machine: devtools.local_env's local environment (MultiMail is
    the loopback stand-in, its key in moto's Secrets Manager, the idempotency table in moto's DynamoDB),
    except that Bedrock Runtime still reaches AWS with your own credentials. Restored on exit."""
    from devtools.local_env import local_environment as shared_local_environment

    with shared_local_environment(region=region, real_aws_services=("bedrockruntime",)) as standin:
        yield standin
