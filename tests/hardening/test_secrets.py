"""Secrets Manager faults: a missing secret, one without a value, access denied, a KMS failure and
a value in the wrong format. Each gives a clear answer that names the secret, never its value,
and nothing reaches MultiMail.

Secrets Manager is moto. Access denied is produced two ways, because neither alone is complete:
moto's IAM enforcement really denies the call end to end, but its error body does not parse to
Secrets Manager's `AccessDeniedException` code (botocore sees a bare 403); botocore's Stubber
raises the error exactly as botocore parses a real `AccessDeniedException` (or KMS
`DecryptionFailure`), through Powertools and the function, so the operator advice is checked too.
"""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from botocore.stub import Stubber
from moto.core import set_initial_no_auth_action_count

from tests.conftest import SECRET_NAME, load_event
from tests.hardening.conftest import Harness, Run
from tests.hardening.counts import COUNTS
from tests.hardening.leakscan import watch

pytestmark = pytest.mark.area("secrets")

WRONG_KEY_TAIL = "wrongformat_do_not_echo_7f3a"


def refused_for_the_secret(h: Harness, run: Run, secret_id: str = SECRET_NAME) -> None:
    """The answer an operator can act on: names the secret, says nothing was sent, reaches nobody."""
    assert run.answer.status == 500
    assert run.answer.body["error"] == "api_key_unavailable"
    assert secret_id in run.answer.message
    assert "the request was not sent" in run.answer.message
    assert h.standin.requests == []


@pytest.mark.parametrize("event_name", ["send", "inbox"])
def test_a_missing_secret_is_named_and_nothing_is_sent(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, event_name: str
) -> None:
    # GIVEN the function is configured with a secret that does not exist
    monkeypatch.setenv("MULTIMAIL_SECRET_ID", "multimail/not-created-yet")
    harness.reset()
    COUNTS.faults += 1
    # WHEN the agent calls
    run = harness.run(load_event(event_name))
    # THEN the answer names the secret and the reason, and MultiMail was never called
    refused_for_the_secret(harness, run, "multimail/not-created-yet")
    assert "ResourceNotFoundException" in run.answer.message
    assert "put-secret-value" in run.answer.message


def test_a_secret_without_a_value_is_named(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the secret exists (the stack made it) but nobody put the key in yet
    harness.secrets.create_secret(Name="multimail/empty")
    monkeypatch.setenv("MULTIMAIL_SECRET_ID", "multimail/empty")
    harness.reset()
    COUNTS.faults += 1
    # WHEN the agent sends THEN the operator is told to put the value in
    run = harness.run(load_event("send"))
    refused_for_the_secret(harness, run, "multimail/empty")
    assert "has no value yet" in run.answer.message


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"token": f"mm_live_{WRONG_KEY_TAIL}"}),
        json.dumps({"api_key": ""}),
        json.dumps({"api_key": f"mm live {WRONG_KEY_TAIL}"}),
        json.dumps({"api_key": 123456789012}),
        json.dumps({"api_key": None, "note": f"mm_live_{WRONG_KEY_TAIL}"}),
        json.dumps([f"mm_live_{WRONG_KEY_TAIL}"]),
        json.dumps(f"mm_live_{WRONG_KEY_TAIL}"),
        "{" + f"api_key: mm_live_{WRONG_KEY_TAIL}",
        "   ",
        f"mm_live_{WRONG_KEY_TAIL} second-line-{WRONG_KEY_TAIL}",
    ],
    ids=[
        "no-api_key",
        "empty-key",
        "key-with-spaces",
        "number",
        "null",
        "json-list",
        "json-string",
        "broken-json",
        "blank",
        "two-words",
    ],
)
def test_a_secret_in_the_wrong_format_is_named_never_shown(harness: Harness, value: str) -> None:
    # GIVEN the secret holds something that is not a usable key
    watch(value, WRONG_KEY_TAIL)
    harness.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=value)
    harness.reset()
    COUNTS.faults += 1
    # WHEN the agent sends
    run = harness.run(load_event("send"))
    # THEN the answer names the secret and the expected format, and holds no part of the value
    refused_for_the_secret(harness, run)
    assert '{"api_key": "mm_live_..."}' in run.answer.message
    assert WRONG_KEY_TAIL not in json.dumps(run.answer.raw)


def test_a_binary_secret_holding_the_key_works(harness: Harness) -> None:
    # GIVEN the key was stored as SecretBinary rather than SecretString
    harness.secrets.create_secret(Name="multimail/binary", SecretBinary=harness.standin.agent_key.encode())
    harness.monkeypatch.setenv("MULTIMAIL_SECRET_ID", "multimail/binary")
    harness.reset()
    # WHEN the agent lists the inbox THEN it works
    assert harness.run(load_event("inbox")).answer.status == 200


def test_access_denied_by_iam_is_named_and_nothing_is_sent(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the function runs as an IAM user whose policy does not allow reading the secret
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="email-actions-fn")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="email-actions-fn", PolicyName="logs-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="email-actions-fn")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    harness.reset()
    COUNTS.faults += 1

    # WHEN the agent sends, with moto enforcing IAM from now on
    @set_initial_no_auth_action_count(0)
    def send() -> Run:
        return harness.run(load_event("send"))

    run = send()
    # THEN the call was really denied, the answer names the secret, and nothing reached MultiMail
    refused_for_the_secret(harness, run)
    assert "403" in run.answer.message or "AccessDenied" in run.answer.message


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("AccessDeniedException", "the function's role may not read it"),
        ("DecryptionFailure", "its KMS key cannot be used by the function"),
        ("InternalServiceError", "Secrets Manager refused the request"),
    ],
)
def test_secrets_manager_errors_come_with_operator_advice(harness: Harness, code: str, advice: str) -> None:
    # GIVEN Secrets Manager answers GetSecretValue with this error code (as botocore parses it)
    client = boto3.client("secretsmanager", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("get_secret_value", service_error_code=code, http_status_code=400)
    stubber.activate()
    harness.reset()
    DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=client)
    COUNTS.faults += 1
    # WHEN the agent sends
    run = harness.run(load_event("send"))
    # THEN the answer names the secret, the code and what to fix
    refused_for_the_secret(harness, run)
    assert code in run.answer.message
    assert advice in run.answer.message
    stubber.assert_no_pending_responses()


def test_a_secret_fault_is_not_cached_as_a_key(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the secret was missing on the first call
    monkeypatch.setenv("MULTIMAIL_SECRET_ID", "multimail/later")
    harness.reset()
    first = harness.run(load_event("inbox"))
    assert first.answer.body["error"] == "api_key_unavailable"
    # WHEN an operator creates it and the agent calls again (same warm function)
    harness.secrets.create_secret(Name="multimail/later", SecretString=harness.standin.agent_key)
    second = harness.run(load_event("inbox"))
    # THEN the second call works
    assert second.answer.status == 200


def test_secret_reads_are_counted_where_they_happen(harness: Harness) -> None:
    # GIVEN a cold start (the harness counts GetSecretValue calls on the client Powertools uses)
    before = len(harness.secret_reads)
    harness.reset()
    # WHEN one call needs the key THEN exactly one read was made, which the rotation tests rely on
    harness.run(load_event("inbox"))
    assert len(harness.secret_reads) == before + 1
