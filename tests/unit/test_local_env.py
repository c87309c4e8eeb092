"""The local environment (devtools/local_env.py) is the deployed configuration on loopback: the same
variables as template.yaml gives the function, the same table, one secret; and it leaves nothing behind."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench.environment import TemplateFunction
from devtools import local_env
from devtools.multimail_standin import AGENT_MAILBOX_ID
from tools.template_schema import parse_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def template_resource(kind: str) -> dict[str, Any]:
    resources = parse_template(TEMPLATE.read_text(encoding="utf-8"))["Resources"]
    found = [r["Properties"] for r in resources.values() if r["Type"] == kind]
    assert len(found) == 1, kind
    properties: dict[str, Any] = found[0]
    return properties


def test_the_function_gets_every_variable_the_template_gives_it_with_the_templates_literals() -> None:
    # GIVEN the variables template.yaml sets on the function (Globals included; None where an intrinsic)
    template = TemplateFunction.read().variables
    # WHEN the local environment's variables are made for a stand-in
    local = local_env.function_variables("http://127.0.0.1:1")
    # THEN every template variable is set; literals are the template's; the per-deployment ones are ours
    assert set(template) <= set(local)
    assert {n: v for n, v in template.items() if v is not None} == {
        n: local[n] for n, v in template.items() if v is not None
    }
    intrinsics = {name for name, value in template.items() if value is None}
    assert set(local_env.DEPLOYMENT_VARIABLES) <= intrinsics
    assert local["MULTIMAIL_API_URL"] == "http://127.0.0.1:1"
    assert local["MULTIMAIL_SECRET_ID"] == local_env.SECRET_NAME
    assert local["MULTIMAIL_MAILBOX_ID"] == AGENT_MAILBOX_ID
    assert local["IDEMPOTENCY_TABLE"] == local_env.IDEMPOTENCY_TABLE
    # AND without a table, exactly-once is off
    assert "IDEMPOTENCY_TABLE" not in local_env.function_variables("http://x", idempotency_table=None)


def test_the_idempotency_table_is_the_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN template.yaml's IdempotencyTable
    table = template_resource("AWS::DynamoDB::Table")
    for name, value in local_env.aws_variables().items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        # WHEN the local environment creates its table in moto
        dynamodb = local_env.create_idempotency_table()
        described = dynamodb.describe_table(TableName=local_env.IDEMPOTENCY_TABLE)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=local_env.IDEMPOTENCY_TABLE)["TimeToLiveDescription"]
    # THEN key, attributes, billing and time to live are the template's
    assert described["KeySchema"] == table["KeySchema"]
    assert described["AttributeDefinitions"] == table["AttributeDefinitions"]
    assert described["BillingModeSummary"]["BillingMode"] == table["BillingMode"]
    assert ttl["AttributeName"] == table["TimeToLiveSpecification"]["AttributeName"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_the_environment_holds_one_secret_and_the_table_and_sets_the_callers_settings_aside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a caller with a profile, real-looking credentials and a MultiMail URL of their own
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALREALREAL")
    monkeypatch.setenv("MULTIMAIL_API_URL", "https://api.multimail.dev")
    before = dict(os.environ)
    # WHEN the local environment is entered
    with local_env.local_environment() as standin:
        inside, port, url = dict(os.environ), standin.port, standin.base_url
        secrets = boto3.client("secretsmanager", region_name=local_env.REGION)
        names = [s["Name"] for s in secrets.list_secrets()["SecretList"]]
        value = json.loads(secrets.get_secret_value(SecretId=local_env.SECRET_NAME)["SecretString"])
        tables = boto3.client("dynamodb", region_name=local_env.REGION).list_tables()["TableNames"]
    # THEN the function's variables point at the stand-in, with moto's credentials (never the caller's), no profile
    assert inside["MULTIMAIL_API_URL"] == url
    assert inside["AWS_ACCESS_KEY_ID"] != "AKIAREALREALREAL"
    assert "AWS_PROFILE" not in inside
    # AND there is one secret, holding the stand-in's agent key, and the idempotency table
    assert names == [local_env.SECRET_NAME]
    assert value == {"api_key": standin.agent_key}
    assert tables == [local_env.IDEMPOTENCY_TABLE]
    # AND afterwards the caller's environment is back, and the stand-in is stopped
    assert dict(os.environ) == before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_services_that_stay_on_aws_keep_the_callers_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a caller with their own credentials and profile (the chat needs them for Bedrock)
    config = tmp_path / "config"
    config.write_text("[profile chat-user]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "chat-user")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIACALLERCALLER")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    # WHEN the environment keeps Bedrock Runtime on AWS
    with local_env.local_environment(region="eu-west-1", real_aws_services=("bedrockruntime",)):
        inside = dict(os.environ)
    # THEN the profile and credentials stay, the Region is the one asked for, no endpoint override leaks in
    assert (inside["AWS_PROFILE"], inside["AWS_ACCESS_KEY_ID"]) == ("chat-user", "ASIACALLERCALLER")
    assert inside["AWS_REGION"] == "eu-west-1"
    assert "AWS_ENDPOINT_URL" not in inside


def test_a_busy_port_says_which_variable_to_set() -> None:
    # GIVEN a port something else listens on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # WHEN the stand-in is asked to use it
        with pytest.raises(local_env.PortBusyError) as failure:
            local_env.start_standin(port)
    # THEN the error names the port and SANDBOX_PORT, and exits 2
    assert failure.value.exit_code == 2
    assert f"port {port} busy: set SANDBOX_PORT" in str(failure.value)
