"""The API key: read from Secrets Manager, cached, refreshed once on a 401, never shown. And the audit line."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from devtools.multimail_standin import AGENT_MAILBOX_ID, StandIn
from email_actions import aws_clients
from tests.conftest import SECRET_NAME, Invoke, load_event


@pytest.fixture
def secret_reads(function_env: StandIn) -> list[str]:
    """Every real GetSecretValue call (cache hits don't count), passed through to moto."""
    reads: list[str] = []

    def counting(**event: Any) -> None:
        reads.append(event["params"]["SecretId"])

    # On the function's session, so every client it makes from it (one per timeout step) counts.
    aws_clients.session().register("before-parameter-build.secrets-manager.GetSecretValue", counting)
    return reads


def audit_lines(output: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [r["audit"] for r in records if r.get("message") == "email action"]


def test_warm_invocations_read_the_secret_once(invoke: Invoke, function_env: StandIn, secret_reads: list[str]) -> None:
    for _ in range(5):
        assert invoke(load_event("inbox")).status == 200
    assert secret_reads == [SECRET_NAME]


def test_a_rotated_key_is_fetched_again_once_after_a_401(
    invoke: Invoke, function_env: StandIn, secrets: Any, secret_reads: list[str]
) -> None:
    # GIVEN a warm function holding the old key
    assert invoke(load_event("inbox")).status == 200
    # WHEN the key is rotated in MultiMail and in the secret
    new_key = function_env.rotate_agent_key("mm_live_rotated_key_0002")
    secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({"api_key": new_key}))
    old_key = "mm_live_standin_agent_key"
    # THEN the next call gets a 401, refreshes once, and succeeds with the new key
    answer = invoke(load_event("send"))
    assert answer.status == 200
    posts = [r for r in function_env.requests if r.method == "POST"]
    assert [r.header("Authorization") for r in posts] == [f"Bearer {old_key}", f"Bearer {new_key}"]
    assert secret_reads == [SECRET_NAME, SECRET_NAME]
    assert len([e for e in function_env.emails(AGENT_MAILBOX_ID) if e.direction == "outbound"]) == 1


def test_a_revoked_key_is_reported_without_hammering_secrets_manager(
    invoke: Invoke, function_env: StandIn, secret_reads: list[str]
) -> None:
    # GIVEN MultiMail no longer accepts the key, and the secret was not updated
    function_env.rotate_agent_key("mm_live_someone_elses_key")
    # WHEN the agent calls three times
    answers = [invoke(load_event("inbox")) for _ in range(3)]
    # THEN each answer is a 401 telling an operator to update the secret
    assert {a.status for a in answers} == {401}
    assert "update the secret" in answers[0].message
    # AND Secrets Manager was read once at the start and forced only once after that
    assert len(secret_reads) == 2


@pytest.mark.parametrize("secret_string", ['{"key": "mm_live_x"}', "", "   ", '{"api_key": ""}', "mm_live has spaces"])
def test_a_secret_in_the_wrong_format_is_named_not_shown(
    invoke: Invoke, function_env: StandIn, secrets: Any, secret_string: str
) -> None:
    secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=secret_string or " ")
    answer = invoke(load_event("send"))
    assert answer.status == 500
    assert answer.body["error"] == "api_key_unavailable"
    assert SECRET_NAME in answer.message
    assert "mm_live_x" not in answer.message
    assert function_env.requests == []


def test_a_missing_secret_says_how_to_put_the_key_in(invoke: Invoke, function_env: StandIn, secrets: Any) -> None:
    secrets.delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)
    answer = invoke(load_event("inbox"))
    assert answer.status == 500
    assert "ResourceNotFoundException" in answer.message
    assert "put-secret-value" in answer.message
    assert function_env.requests == []


def test_one_audit_line_per_action_without_addresses_or_key(
    invoke: Invoke, function_env: StandIn, log_output: io.StringIO
) -> None:
    # GIVEN a send with two recipients and a cc
    event = load_event("send_comma_separated")
    # WHEN it runs
    answer = invoke(event)
    output = log_output.getvalue()
    # THEN exactly one audit record describes it with ids and counts only
    [audit] = audit_lines(output)
    assert audit == {
        "action": "POST /send",
        "agent_id": "AGENT12345",
        "agent_alias": "TSTALIASID",
        "session_id": "demo-session-0001",
        "mailbox_id": AGENT_MAILBOX_ID,
        "recipient_count": 3,
        "upstream_status": 202,
        "email_id": answer.body["email_id"],
        "status_code": 200,
        "duration_ms": audit["duration_ms"],
    }
    assert isinstance(audit["duration_ms"], float)
    # AND nothing personal or secret is in the logs
    for private in ("ana@example.com", "sam@example.net", "Agenda for Thursday", function_env.agent_key):
        assert private not in output


def test_failed_actions_are_audited_too(invoke: Invoke, function_env: StandIn, log_output: io.StringIO) -> None:
    invoke(load_event("bad_send_invalid_address"))
    invoke(load_event("bad_unknown_path"))
    audits = audit_lines(log_output.getvalue())
    assert [(a["action"], a["status_code"], a["upstream_status"]) for a in audits] == [
        ("POST /send", 400, None),
        ("POST /forward", 404, None),
    ]
