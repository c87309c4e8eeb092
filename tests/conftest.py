"""Shared fixtures: Secrets Manager through moto, MultiMail through the loopback stand-in, and an
`invoke` helper that runs one Bedrock event through the real handler and checks the response shape.

The configuration is the local environment's (devtools/local_env.py): the same variables, secret name
and Region as `make demo`, `make invoke`, the benchmark and the chat, set here through monkeypatch so
that each test can change a piece of it. Events are built with devtools/events.py.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools import local_env
from devtools.events import EVENTS as EVENTS
from devtools.events import call_handler
from devtools.events import load_event as load_event
from devtools.events import with_body as with_body
from devtools.events import with_params as with_params
from devtools.local_env import reset_function_state as reset_function_state
from devtools.multimail_standin import AGENT_MAILBOX_ID, StandIn

SECRET_NAME = local_env.SECRET_NAME
TABLE = local_env.IDEMPOTENCY_TABLE


@dataclass(frozen=True)
class Answer:
    """A handler response, checked against the Bedrock contract, with its body parsed."""

    raw: dict[str, Any]
    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


def check_bedrock_response(event: Any, response: Any) -> Answer:
    """Assert the documented response shape: echo fields, a status, and a JSON document as a string."""
    assert isinstance(response, dict)
    assert response["messageVersion"] == "1.0"
    inner = response["response"]
    source = event if isinstance(event, dict) else {}
    from email_actions.bedrock import ECHO_LIMIT

    for key in ("actionGroup", "apiPath", "httpMethod"):
        expected = source.get(key)  # echoed, unless it is no string or too long to be Bedrock's
        assert inner[key] == (expected if isinstance(expected, str) and len(expected) <= ECHO_LIMIT else "")
    assert isinstance(inner["httpStatusCode"], int)
    assert set(inner["responseBody"]) == {"application/json"}
    body_text = inner["responseBody"]["application/json"]["body"]
    assert isinstance(body_text, str)
    assert len(json.dumps(response).encode()) < 25_000
    body = json.loads(body_text)
    assert isinstance(body, dict)
    return Answer(raw=response, status=inner["httpStatusCode"], body=body)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a Region, and no profile: no test can reach a real account."""
    for name, value in local_env.aws_variables().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def secrets(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=local_env.REGION)


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, standin: StandIn, secrets: Any) -> Iterator[StandIn]:
    """The deployed configuration, pointed at loopback: a secret in moto, MultiMail on 127.0.0.1.

    Without the idempotency table: most tests check one call at a time; the exactly-once tests add
    it (local_env.create_idempotency_table and IDEMPOTENCY_TABLE). Logs at INFO: tests read the audit line."""
    local_env.create_secret(secrets, standin.agent_key)
    for name, value in local_env.function_variables(standin.base_url, idempotency_table=None, verbose=True).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    reset_function_state()
    yield standin
    reset_function_state()


@pytest.fixture
def table(function_env: StandIn, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The exactly-once table in moto, named in the function's settings, as deployed."""
    dynamodb = local_env.create_idempotency_table(TABLE)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    reset_function_state()
    return dynamodb


def mail_requests(standin: StandIn) -> list[Any]:
    """The stand-in's requests but the mailbox list, which the function reads for the oversight mode
    (once per execution environment) beside whatever an action does."""
    return [r for r in standin.requests if (r.method, r.path) != ("GET", "/v1/mailboxes")]


def outbound(standin: StandIn) -> list[Any]:
    """The agent mailbox's outgoing emails, as the stand-in holds them."""
    return [e for e in standin.emails(AGENT_MAILBOX_ID) if e.direction == "outbound"]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the function logs, as the JSON lines CloudWatch would receive."""
    from email_actions.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


Invoke = Callable[..., Answer]


@pytest.fixture
def invoke(function_env: StandIn) -> Invoke:
    def run(event: Any, *, timeout_seconds: float = 30.0) -> Answer:
        return check_bedrock_response(event, call_handler(event, timeout_seconds=timeout_seconds))

    return run


# -- the key-leak scan over the whole suite (tests/hardening/leakscan.py, issue 6) ---------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Every phase of every test: fail it if its captured output holds the API key."""
    from tests.hardening.leakscan import scan_report

    report: pytest.TestReport = yield
    scan_report(item, report)
    return report


def outside_untrusted(value: Any) -> Any:
    """The answer without its `untrusted` subtrees: what the model may take as ours."""
    if isinstance(value, dict):
        return {k: outside_untrusted(v) for k, v in value.items() if k != "untrusted"}
    if isinstance(value, list):
        return [outside_untrusted(v) for v in value]
    return value
