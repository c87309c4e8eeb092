"""The operation table is the one list of actions: every door and every generated file follows it.

`docs/architecture.md#adding-an-action` counts six places for a new action; these tests add one to
the table (with its model and use case) and check that the doors and the generators need nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import Field

from devtools.lambda_context import LocalLambdaContext
from devtools.mcp_server.invocation import call_tool
from email_actions import operations
from email_actions.models import ID_PATTERN, _Request
from email_actions.operations import BY_NAME, BY_ROUTE, OPERATIONS, Operation
from tools.openapi import generate, generate_tools


class ArchiveEmailRequest(_Request):
    """The email to archive."""

    email_id: str = Field(pattern=ID_PATTERN, description="The email's id, from listInbox.")
    reason: str | None = Field(default=None, max_length=80, description="Why, in a few words.")


def _archive(service: Any, request: ArchiveEmailRequest) -> dict[str, Any]:
    # a use case that needs no MultiMail: what it was given, to show the arguments arrived typed
    return {"email_id": request.email_id, "reason": request.reason, "status": "archived"}


ARCHIVE = Operation(
    name="archiveEmail",
    method="POST",
    path="/emails/{email_id}/archive",
    summary="Archive an email",
    description="Archive one received email, so it leaves the inbox listing; it can still be read by its id later.",
    answer_description="The archived email's id.",
    request=ArchiveEmailRequest,
    use_case=_archive,
)


@pytest.fixture
def with_archive(monkeypatch: pytest.MonkeyPatch) -> Operation:
    """The table with one more operation, as a developer adding an action would have it."""
    monkeypatch.setattr(operations, "OPERATIONS", (*OPERATIONS, ARCHIVE))
    monkeypatch.setitem(BY_NAME, ARCHIVE.name, ARCHIVE)
    monkeypatch.setitem(BY_ROUTE, (ARCHIVE.method, ARCHIVE.path), ARCHIVE)
    return ARCHIVE


def test_the_table_names_each_operation_and_route_once() -> None:
    assert len(BY_NAME) == len(BY_ROUTE) == len(OPERATIONS)
    for operation in OPERATIONS:
        # every path parameter is a required field of the request model, so no door can leave it out
        for name in re.findall(r"\{(\w+)\}", operation.path):
            assert name in operation.required_arguments(), (operation.name, name)
        # a model chooses actions by these words; the ones that send are confirmed and exactly-once
        assert len(operation.description) > 80
        assert operation.confirm == operation.sends
    assert {o.name for o in OPERATIONS if o.sends} == {"sendEmail", "replyToEmail"}


def test_a_new_operation_is_served_by_both_doors_with_nothing_else_changed(
    function_env: Any, with_archive: Operation
) -> None:
    from email_actions.app import lambda_handler

    # WHEN the gateway calls it, and Bedrock sends its event
    through_gateway = call_tool("archiveEmail", {"email_id": "em_1", "reason": "done"})
    event = {
        "messageVersion": "1.0",
        "actionGroup": "EmailActions",
        "sessionId": "s-archive",
        "apiPath": "/emails/{email_id}/archive",
        "httpMethod": "POST",
        "parameters": [{"name": "email_id", "type": "string", "value": "em_1"}],
        "requestBody": {"content": {"application/json": {"properties": [{"name": "reason", "value": "done"}]}}},
    }
    response = lambda_handler(event, LocalLambdaContext())
    through_bedrock = json.loads(response["response"]["responseBody"]["application/json"]["body"])
    # THEN both reach its use case with the same typed request
    expected = {"email_id": "em_1", "reason": "done", "status": "archived"}
    assert through_gateway == expected
    assert response["response"]["httpStatusCode"] == 200
    assert through_bedrock == expected
    # AND both refuse what its model refuses, naming the field
    refused = call_tool("archiveEmail", {"email_id": "../x"})
    assert refused["status_code"] == 400
    assert refused["fields"] == ["email_id"]


def test_a_new_operation_is_in_the_schema_and_the_tools_where_its_arguments_travel(with_archive: Operation) -> None:
    # WHEN make openapi's generators run
    document = generate()
    tools = {tool["name"]: tool for tool in generate_tools()}
    # THEN the schema places the path parameter in the path and the rest in the body
    archive = document["paths"]["/emails/{email_id}/archive"]["post"]
    assert archive["operationId"] == "archiveEmail"
    assert [(p["name"], p["in"], p["required"]) for p in archive["parameters"]] == [("email_id", "path", True)]
    body = archive["requestBody"]["content"]["application/json"]["schema"]
    assert list(body["properties"]) == ["reason"]
    assert body["properties"]["reason"]["nullable"] is True
    assert archive["requestBody"]["required"] is False
    # AND the tool merges them into one object, the path parameter required
    schema = tools["archiveEmail"]["inputSchema"]
    assert set(schema["properties"]) == {"email_id", "reason"}
    assert schema["required"] == ["email_id"]
    assert tools["archiveEmail"]["description"].startswith("Archive an email. Archive one received email")
