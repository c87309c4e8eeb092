"""The Converse tools are the generated tool list; a tool call becomes the Bedrock event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converse_agent.tools import (
    FALLBACK_MODEL_ID,
    TEMPLATE_PATH,
    SchemaError,
    build_event,
    default_model_id,
    load_operations,
    tool_config,
    tool_result,
)
from devtools.events import operations
from tests.conftest import load_event

OPENAPI = json.loads((TEMPLATE_PATH.parent / "openapi" / "email_actions.json").read_text())


def specs() -> dict[str, dict[str, Any]]:
    config = tool_config(load_operations())
    return {tool["toolSpec"]["name"]: tool["toolSpec"] for tool in config["tools"]}


def openapi_operations() -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in OPENAPI["paths"].values() for op in item.values()}


def test_there_is_one_tool_per_operation_named_and_described_by_the_schema() -> None:
    # GIVEN the committed action group schema
    # WHEN it is read as Converse tools
    tools = specs()
    # THEN every operation is a tool with the operation's id and description, and nothing else is
    assert set(tools) == {operation.operation_id for operation in operations()}
    for name, operation in openapi_operations().items():
        assert tools[name]["description"] == f"{operation['summary']}. {operation['description']}"
        assert set(tools[name]) == {"name", "description", "inputSchema"}
        assert tools[name]["inputSchema"]["json"]["type"] == "object"


def test_send_requires_to_subject_and_body_with_their_types() -> None:
    schema = specs()["sendEmail"]["inputSchema"]["json"]
    assert schema["required"] == ["to", "subject", "body"]
    assert set(schema["properties"]) == {"to", "cc", "bcc", "subject", "body", "send_at", "mailbox_id"}
    assert schema["properties"]["to"]["type"] == "array"
    assert schema["properties"]["to"]["items"] == {"type": "string"}
    assert schema["properties"]["to"]["minItems"] == 1
    assert schema["properties"]["subject"] == {
        "type": "string",
        "maxLength": 400,
        "minLength": 1,
        "description": "The subject line, a single line of text.",
    }


def test_path_and_query_parameters_become_properties_with_path_ones_required() -> None:
    tools = specs()
    read = tools["readEmail"]["inputSchema"]["json"]
    assert read["required"] == ["email_id"]
    assert read["properties"]["email_id"]["type"] == "string"
    assert read["properties"]["body_offset"]["type"] == "integer"
    inbox = tools["listInbox"]["inputSchema"]["json"]
    assert "required" not in inbox  # every inbox parameter is optional
    assert inbox["properties"]["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "default": 10,
        "description": "How many emails to return, 1 to 50. Default 10.",
    }
    assert tools["cancelPendingEmail"]["inputSchema"]["json"]["required"] == ["email_id"]
    assert tools["replyToEmail"]["inputSchema"]["json"]["required"] == ["email_id", "body"]


def test_openapi_only_keywords_are_dropped_and_every_property_is_described() -> None:
    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            return list(node) + [key for value in node.values() for key in walk(value)]
        if isinstance(node, list):
            return [key for value in node for key in walk(value)]
        return []

    tools = specs()
    # GIVEN the schema uses `nullable` and `additionalProperties`, which are OpenAPI's, not the tools'
    assert "nullable" in walk(OPENAPI)
    assert "additionalProperties" in walk(OPENAPI)
    for spec in tools.values():
        schema = spec["inputSchema"]["json"]
        # THEN no tool carries them
        assert "nullable" not in walk(schema)
        assert "additionalProperties" not in walk(schema)
        # AND every input the model fills in tells it what it is
        for prop in schema["properties"].values():
            assert prop["description"]


def test_confirmation_is_required_exactly_where_the_schema_says() -> None:
    operations = load_operations()
    flagged = {name for name, op in openapi_operations().items() if op.get("x-requireConfirmation") == "ENABLED"}
    assert flagged == {"sendEmail", "replyToEmail"}
    assert {name for name, op in operations.items() if op.confirm} == flagged


@pytest.mark.parametrize(
    ("fixture", "tool", "tool_input"),
    [
        (
            "send",
            "sendEmail",
            {
                "to": ["ana@example.com"],
                "subject": "Thursday's call at 10:00",
                "body": "Hi Ana,\n\nConfirming our call on **Thursday at 10:00**. Talk then!\n\nBest regards",
            },
        ),
        (
            "send_comma_separated",
            "sendEmail",
            {
                "to": "ana@example.com, li@example.org",
                "cc": "sam@example.net",
                "subject": "Agenda for Thursday",
                "body": "1. Budget\n2. Hiring\n3. AOB",
            },
        ),
        ("inbox", "listInbox", {"limit": 10}),
        ("read_email", "readEmail", {"email_id": "em_seed_invoice"}),
        (
            "reply",
            "replyToEmail",
            {
                "email_id": "em_seed_invoice",
                "body": (
                    "Hello Dana,\n\nThank you for checking invoice INV-2025-0412. You are right about the seat "
                    "count: we will send a corrected invoice by Friday.\n\nKind regards"
                ),
            },
        ),
        ("pending", "listPendingEmails", {}),
        ("cancel", "cancelPendingEmail", {"email_id": "em_pending_example"}),
    ],
)
def test_a_tool_call_becomes_the_event_bedrock_agents_would_send(
    fixture: str, tool: str, tool_input: dict[str, Any]
) -> None:
    # GIVEN the event fixture Bedrock Agents sends for an action, and the same call as a tool input
    expected = load_event(fixture)
    # WHEN the tool call is turned into an event
    event = build_event(
        load_operations()[tool], tool_input, session_id=expected["sessionId"], input_text=expected["inputText"]
    )
    # THEN it is the fixture, value for value, but for the agent that makes it
    assert event["agent"] == {
        "name": "converse-agent",
        "id": "converse-local",
        "alias": "converse-local",
        "version": "local",
    }
    assert {**event, "agent": expected["agent"]} == expected


def test_values_become_strings_and_nulls_are_left_out() -> None:
    operations = load_operations()
    # GIVEN a model that writes numbers, arrays and nulls
    event = build_event(
        operations["listInbox"],
        {"limit": 3, "status": None, "direction": "all"},
        session_id="s-1",
        input_text="hi",
    )
    assert event["parameters"] == [
        {"name": "limit", "type": "integer", "value": "3"},
        {"name": "direction", "type": "string", "value": "all"},
    ]
    assert "requestBody" not in event
    send = build_event(
        operations["sendEmail"],
        {"to": ["a@x.com", "b@y.org"], "subject": "S", "body": "B", "cc": None},
        session_id="s-1",
        input_text="hi",
    )
    assert send["requestBody"]["content"]["application/json"]["properties"][0] == {
        "name": "to",
        "type": "array",
        "value": '["a@x.com", "b@y.org"]',
    }
    assert "parameters" not in send


def test_a_name_the_schema_does_not_know_is_passed_on_for_the_function_to_reject() -> None:
    operations = load_operations()
    send = build_event(
        operations["sendEmail"],
        {"to": ["a@x.com"], "subject": "S", "body": "B", "urgent": True},
        session_id="s",
        input_text="",
    )
    props = send["requestBody"]["content"]["application/json"]["properties"]
    assert props[-1] == {"name": "urgent", "type": "boolean", "value": "true"}
    inbox = build_event(operations["listInbox"], {"page": 2}, session_id="s", input_text="")
    assert inbox["parameters"] == [{"name": "page", "type": "integer", "value": "2"}]


def test_a_missing_or_stale_tool_list_is_refused_clearly(tmp_path: Path) -> None:
    # GIVEN no tool list, and one that lacks an operation (make openapi was not run)
    with pytest.raises(SchemaError, match="Cannot read"):
        tool_config(load_operations(), tmp_path / "missing.json")
    stale = tmp_path / "tools.json"
    stale.write_text(json.dumps([{"name": "sendEmail", "description": "S.", "inputSchema": {"type": "object"}}]))
    # THEN the error names what is missing and how to make it
    with pytest.raises(SchemaError, match="make openapi"):
        tool_config(load_operations(), stale)


def test_an_answer_of_400_or_more_is_an_error_result() -> None:
    def answer(status: int, body: str) -> dict[str, Any]:
        return {"response": {"httpStatusCode": status, "responseBody": {"application/json": {"body": body}}}}

    ok = tool_result("t1", answer(200, '{"count": 0}'))
    assert ok == {"toolResult": {"toolUseId": "t1", "content": [{"json": {"count": 0}}], "status": "success"}}
    bad = tool_result("t2", answer(422, '{"error": "invalid_input", "message": "m"}'))
    assert bad["toolResult"]["status"] == "error"
    assert bad["toolResult"]["content"] == [{"json": {"error": "invalid_input", "message": "m"}}]
    broken = tool_result("t3", {"oops": True})
    assert broken["toolResult"]["status"] == "error"
    assert broken["toolResult"]["content"][0]["json"]["error"] == "bad_function_response"


def test_the_default_model_is_the_templates(tmp_path: Path) -> None:
    # GIVEN the template names the agent's model once, as the FoundationModel default
    model = default_model_id()
    text = TEMPLATE_PATH.read_text()
    # THEN the chat uses that model
    assert f"    Default: {model}\n" in text
    # AND it finds the right parameter's default, not a neighbour's
    other = tmp_path / "template.yaml"
    other.write_text(
        "Parameters:\n  Other:\n    Default: nope\n  FoundationModel:\n    Type: String\n"
        "    # a comment\n    Default: 'amazon.nova-pro-v1:0'\n  Next:\n    Default: no\n"
        "Resources:\n  X:\n    Default: no\n"
    )
    assert default_model_id(other) == "amazon.nova-pro-v1:0"
    # AND without a template it falls back to the documented constant
    assert default_model_id(tmp_path / "absent.yaml") == FALLBACK_MODEL_ID
