"""Errors that end a chat: one clear line for the person at the terminal, never a traceback."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)


class ChatError(Exception):
    """The chat cannot go on; the message says why and what to do."""


def describe_aws_error(error: ClientError | BotoCoreError) -> str:
    """What went wrong in an AWS call, in words, for any service."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials were found. Configure them (aws configure, AWS_PROFILE or AWS_* variables)."
    if isinstance(error, NoRegionError):
        return "no AWS Region is set. Pass --region or set AWS_REGION."
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return f"cannot reach AWS ({error}). Check the Region and the network."
    if isinstance(error, ReadTimeoutError):
        return "AWS did not answer in time. Try again."
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        if code in ("UnrecognizedClientException", "ExpiredTokenException", "InvalidSignatureException"):
            return f"the AWS credentials were refused ({code}). Refresh them and try again."
        return f"{code}: {message}".rstrip(": ")
    return str(error)


def bedrock_error(error: ClientError | BotoCoreError, model_id: str, region: str) -> ChatError:
    """A Converse failure, with the step that usually fixes it."""
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    message = error.response.get("Error", {}).get("Message", "") if isinstance(error, ClientError) else ""
    hints = {
        "AccessDeniedException": (
            f"access denied on model {model_id} in {region}. The credentials need bedrock:InvokeModel on it (for an "
            "inference profile, on the profile and on the models it routes to), and access to the model must be "
            "enabled in the Bedrock console."
        ),
        "ThrottlingException": (
            f"Bedrock is throttling calls to {model_id}. Wait a minute and try again, or ask for a higher quota."
        ),
        "ServiceQuotaExceededException": f"a Bedrock quota for {model_id} is used up: {message}",
        "ValidationException": (
            f"Bedrock rejected the request: {message}. Check that {model_id} supports tool use with the Converse "
            f"API in {region}, and that the guardrail id and version exist."
        ),
        "ResourceNotFoundException": f"not found in {region}: {message}. Check --model-id and --guardrail-id.",
        "ModelNotReadyException": f"{model_id} is not ready yet. Try again in a minute.",
        "ModelTimeoutException": f"{model_id} took too long to answer. Try again.",
    }
    return ChatError(f"Bedrock: {hints.get(code) or describe_aws_error(error)}")
