"""Where a tool call runs: the action-group handler in this process, or the deployed function.

Both take the Bedrock Agents event and give back the function's Bedrock response, so validation,
idempotency, oversight and the audit line are those of the action group itself. Deployed, the
function is invoked through the Lambda API with the caller's AWS credentials: the MultiMail key
stays in Secrets Manager, read by the function.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from converse_agent.errors import ChatError, describe_aws_error
from converse_agent.tools import ROOT

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from devtools.multimail_standin import StandIn

Executor = Callable[[dict[str, Any]], dict[str, Any]]
LOCAL_SECRET_NAME = "multimail/converse-local"  # noqa: S105 (a secret's name)


class InProcessExecutor:
    """Runs `email_actions.app.lambda_handler` here, with a Lambda-like context and deadline."""

    def __init__(self, timeout_seconds: float = 30.0) -> None:
        functions = str(ROOT / "functions")
        if functions not in sys.path:
            sys.path.insert(0, functions)
        from devtools.lambda_context import LocalLambdaContext
        from email_actions.app import lambda_handler

        self._handler = lambda_handler
        self._context = LocalLambdaContext
        self._timeout = timeout_seconds

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self._handler(event, self._context(timeout_seconds=self._timeout))
        return response


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
    """The deployed configuration, on this machine: MultiMail is the loopback stand-in, and the
    secret holding its key is in moto's Secrets Manager. Only Secrets Manager is mocked: Bedrock
    calls go to AWS with your own credentials. The environment is restored on exit."""
    import boto3
    from moto import mock_aws
    from moto.core.config import DefaultConfig

    from devtools.multimail_standin import AGENT_MAILBOX_ID, StandIn

    saved = dict(os.environ)
    config: DefaultConfig = {"core": {"mock_credentials": False, "passthrough": {"services": ["bedrockruntime"]}}}
    try:
        with StandIn() as standin, mock_aws(config=config):
            # moto accepts any credentials, and the caller may have none yet
            session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
            moto = session.client("secretsmanager", region_name=region)
            moto.create_secret(Name=LOCAL_SECRET_NAME, SecretString=json.dumps({"api_key": standin.agent_key}))
            os.environ.update(
                {
                    "AWS_DEFAULT_REGION": region,
                    "MULTIMAIL_SECRET_ID": LOCAL_SECRET_NAME,
                    "MULTIMAIL_API_URL": standin.base_url,
                    "MULTIMAIL_MAILBOX_ID": AGENT_MAILBOX_ID,
                    "POWERTOOLS_SERVICE_NAME": "email-actions",
                    "POWERTOOLS_TRACE_DISABLED": "true",
                }
            )
            os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the audit lines are INFO
            yield standin
    finally:
        os.environ.clear()
        os.environ.update(saved)
