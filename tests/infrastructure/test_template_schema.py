"""tools.template_schema edits template.yaml's text surgically; these tests hold it to that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.template_schema import (
    TemplateFormatError,
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
