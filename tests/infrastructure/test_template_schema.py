"""tools.template_schema edits template.yaml's text surgically; these tests hold it to that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.template_schema import (
    TemplateFormatError,
    cloudformation_tools,
    main,
    parse_template,
    read_template_payload,
    sync_template,
    written_fingerprints,
)

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Guardrail:
    Type: AWS::Bedrock::Guardrail
    Properties:
      Name: !Sub ${AWS::StackName}-guardrail  # a comment that must survive
      BlockedInputMessaging: no
      BlockedOutputsMessaging: no
  GuardrailVersion:
    Type: AWS::Bedrock::GuardrailVersion
    Properties:
      GuardrailIdentifier: !GetAtt Guardrail.GuardrailId
      Description: Pinned. guardrail-config 000000000000
  Agent:
    Type: AWS::Bedrock::Agent
    Properties:
      AgentName: !Sub ${AWS::StackName}-agent
      ActionGroups:
        - ActionGroupName: EmailActions
          ApiSchema:
            # generated: do not edit
            Payload: |
              {}

          Description: after the block
  AgentAlias:
    Type: AWS::Bedrock::AgentAlias
    Properties:
      AgentId: !GetAtt Agent.AgentId
      Description: !Sub "Model ${AWS::Region}, agent-config 000000000000"
"""

SCHEMA: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Email — actions", "version": "1"},
    "paths": {
        "/send": {
            "post": {
                "operationId": "sendEmail",
                # Characters YAML reads as line breaks or refuses, next to ones JSON escapes anyway.
                "description": 'Line\u2028separator, next\x85line, a tab\t, "quotes", a backslash \\ and: colons',
                "x-requireConfirmation": "ENABLED",
            }
        }
    },
}


@pytest.fixture
def template_file(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


def test_sync_writes_the_schema_where_cloudformation_reads_it(template_file: Path) -> None:
    # GIVEN a template with a placeholder payload
    # WHEN a schema with awkward characters is synced into it
    changed = sync_template(SCHEMA, template_file)
    # THEN the file changed, and both the text reader and a CloudFormation YAML parser get the schema back
    assert changed is True
    assert read_template_payload(template_file) == SCHEMA
    parsed = parse_template(template_file.read_text(encoding="utf-8"))
    payload = parsed["Resources"]["Agent"]["Properties"]["ActionGroups"][0]["ApiSchema"]["Payload"]
    assert json.loads(payload) == SCHEMA


def test_sync_leaves_everything_else_as_written(template_file: Path) -> None:
    # GIVEN a template with comments, short-form tags and a key after the payload block
    # WHEN a schema is synced
    sync_template(SCHEMA, template_file)
    text = template_file.read_text(encoding="utf-8")
    # THEN the lines outside the block are untouched, apart from the two fingerprints
    before = [line for line in TEMPLATE.splitlines() if "-config " not in line and line.strip() != "{}"]
    after = [line for line in text.splitlines() if "-config " not in line]
    assert [line for line in after if line in before] == before
    assert "\n\n          Description: after the block\n" in text
    parsed = parse_template(text)
    group = parsed["Resources"]["Agent"]["Properties"]["ActionGroups"][0]
    assert group["Description"] == "after the block"


def test_sync_is_deterministic_and_reports_no_change_the_second_time(template_file: Path) -> None:
    # GIVEN a template already synced with a schema
    sync_template(SCHEMA, template_file)
    first = template_file.read_text(encoding="utf-8")
    # WHEN the same schema is synced again
    changed = sync_template(SCHEMA, template_file)
    # THEN nothing changes
    assert changed is False
    assert template_file.read_text(encoding="utf-8") == first


def test_a_new_schema_changes_the_agent_fingerprint_but_not_the_guardrails(template_file: Path) -> None:
    # GIVEN a synced template
    sync_template(SCHEMA, template_file)
    before = written_fingerprints(template_file.read_text(encoding="utf-8"))
    # WHEN the schema changes
    sync_template({**SCHEMA, "info": {"title": "other", "version": "2"}}, template_file)
    after = written_fingerprints(template_file.read_text(encoding="utf-8"))
    # THEN the alias gets a new description (a new agent version) and the guardrail version stays
    assert after["agent-config"] != before["agent-config"]
    assert after["guardrail-config"] == before["guardrail-config"]
    assert "000000000000" not in after.values()


def test_a_guardrail_change_is_caught_by_the_check_and_fixed_by_the_refresh(template_file: Path) -> None:
    # GIVEN a synced template whose guardrail is then edited by hand
    sync_template(SCHEMA, template_file)
    edited = template_file.read_text(encoding="utf-8").replace("BlockedInputMessaging: no", "BlockedInputMessaging: x")
    template_file.write_text(edited, encoding="utf-8")
    # WHEN the fingerprints are checked, then refreshed
    stale = main(["fingerprints", "--check", str(template_file)])
    refreshed = main(["fingerprints", str(template_file)])
    # THEN the check fails, the refresh fixes it, and the check passes again
    assert (stale, refreshed) == (1, 0)
    assert main(["fingerprints", "--check", str(template_file)]) == 0


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (TEMPLATE.replace("Payload: |", "Payload: '{}'"), "exactly one `Payload: |` block"),
        (TEMPLATE.replace("ApiSchema:", "ApiSchema:\n            Payload: |\n              {}\n"), "found 2"),
        (TEMPLATE.replace("agent-config 000000000000", "agent-config"), "agent-config"),
    ],
)
def test_a_template_without_the_expected_shape_is_refused(tmp_path: Path, text: str, complaint: str) -> None:
    # GIVEN a template that lacks the literal payload block, doubles it, or lost a fingerprint mark
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    # WHEN a schema is synced into it
    # THEN nothing is written, and the error says what is wrong
    with pytest.raises(TemplateFormatError, match=complaint):
        sync_template(SCHEMA, path)
    assert path.read_text(encoding="utf-8") == text


# ------------------------------------------------------------------ the gateway target's tools

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_PATH = REPO_ROOT / "openapi" / "email_actions.tools.json"
SCHEMA_DEFINITION_KEYS = {"type", "description", "items", "properties", "required"}  # AgentCore's SchemaDefinition

TOOLS_TEMPLATE = """\
Resources:
  GatewayTarget:
    Type: AWS::BedrockAgentCore::GatewayTarget
    Properties:
      GatewayIdentifier: !GetAtt Gateway.GatewayIdentifier  # a comment that must survive
      TargetConfiguration:
        Mcp:
          Lambda:
            LambdaArn: !GetAtt EmailActionsFunction.Arn
            ToolSchema:
              InlinePayload:
                []
      Name: after-the-block
"""

TOOLS: list[dict[str, Any]] = [
    {
        "name": "sendEmail",
        "description": 'Send\u2028now, "quoted": yes',
        "inputSchema": {
            "type": "object",
            "properties": {
                "to": {"type": "array", "description": "Recipients.", "items": {"type": "string"}},
                "type": {"type": "string", "description": "a field whose name is a schema keyword"},
            },
            "required": ["to"],
        },
    }
]


def _definition_keys(schema: dict[str, Any]) -> set[str]:
    keys = set(schema)
    for field in schema.get("properties", {}).values():
        keys |= _definition_keys(field)
    if "items" in schema:
        keys |= _definition_keys(schema["items"])
    return keys


def _plain_spelling(schema: dict[str, Any]) -> dict[str, Any]:
    """A SchemaDefinition in CloudFormation's spelling, back in JSON Schema's (field names kept)."""
    plain = {key[0].lower() + key[1:]: value for key, value in schema.items()}
    if "properties" in plain:
        plain["properties"] = {name: _plain_spelling(field) for name, field in plain["properties"].items()}
    if "items" in plain:
        plain["items"] = _plain_spelling(plain["items"])
    return plain


def test_the_tools_file_is_what_the_code_generates() -> None:
    from tools.openapi import generate_tools, render_tools

    # GIVEN the tools generated from the handler code WHEN compared with openapi/email_actions.tools.json
    # THEN they are the same: `make openapi` was run after the last change of a route or model
    assert TOOLS_PATH.read_text(encoding="utf-8") == render_tools(generate_tools()), "run `make openapi`"


def test_the_template_carries_the_tools_file() -> None:
    from tools.template_schema import read_template_tools

    # GIVEN the committed tools WHEN the template's gateway target is read
    tools = json.loads(TOOLS_PATH.read_text(encoding="utf-8"))
    # THEN its inline payload is the same tools, in CloudFormation's spelling
    assert read_template_tools(REPO_ROOT / "template.yaml") == cloudformation_tools(tools), "run `make openapi`"


def test_the_tools_are_the_action_groups_operations_in_what_agentcore_accepts() -> None:
    # GIVEN the tools and the OpenAPI schema of the action group
    tools = json.loads(TOOLS_PATH.read_text(encoding="utf-8"))
    openapi = json.loads((REPO_ROOT / "openapi" / "email_actions.json").read_text(encoding="utf-8"))
    operations = [op for item in openapi["paths"].values() for op in item.values()]
    # THEN there is one tool per operation, named by its operationId, with its description
    assert [tool["name"] for tool in tools] == [op["operationId"] for op in operations]
    for tool, operation in zip(tools, operations, strict=True):
        assert operation["description"] in tool["description"]
        # AND each input schema is an object; its copy in the template uses only what AgentCore's
        # SchemaDefinition holds (the limits stay in the descriptions, and the request models check them)
        assert tool["inputSchema"]["type"] == "object"
        (copy,) = cloudformation_tools([tool])
        assert _definition_keys(_plain_spelling(copy["InputSchema"])) <= SCHEMA_DEFINITION_KEYS
        assert set(tool["inputSchema"].get("required", [])) <= set(tool["inputSchema"]["properties"])


def test_sync_writes_the_tools_where_cloudformation_reads_them(tmp_path: Path) -> None:
    from tools.template_schema import cloudformation_tools, read_template_tools, sync_template_tools

    # GIVEN a template with an empty inline payload
    path = tmp_path / "template.yaml"
    path.write_text(TOOLS_TEMPLATE, encoding="utf-8")
    # WHEN the tools are synced, twice
    assert sync_template_tools(TOOLS, path) is True
    assert sync_template_tools(TOOLS, path) is False
    # THEN CloudFormation reads them back, with field names kept and schema keys in its spelling
    [tool] = read_template_tools(path)
    assert tool == cloudformation_tools(TOOLS)[0]
    assert set(tool["InputSchema"]["Properties"]) == {"to", "type"}
    assert tool["InputSchema"]["Properties"]["to"]["Items"] == {"Type": "string"}
    # AND the rest of the template is as it was written
    text = path.read_text(encoding="utf-8")
    assert "# a comment that must survive" in text
    assert parse_template(text)["Resources"]["GatewayTarget"]["Properties"]["Name"] == "after-the-block"


def test_a_template_without_one_inline_payload_is_refused(tmp_path: Path) -> None:
    from tools.template_schema import sync_template_tools

    path = tmp_path / "template.yaml"
    path.write_text(TOOLS_TEMPLATE.replace("InlinePayload:", "S3:"), encoding="utf-8")
    with pytest.raises(TemplateFormatError, match="InlinePayload"):
        sync_template_tools(TOOLS, path)
