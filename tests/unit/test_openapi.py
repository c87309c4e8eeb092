"""The action group's schema: generated from the code, committed, and written for a model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from devtools.events import fixture_names, load_event
from devtools.events import operations as committed_operations
from email_actions.models import LIST_STATUSES
from tools.openapi import ACTIONS_BEGIN, ACTIONS_END, README_PATH, SCHEMA_PATH, TITLE, actions_table, generate, render


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return generate()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_committed_schema_is_what_the_code_generates(schema: dict[str, Any]) -> None:
    assert SCHEMA_PATH.read_text() == render(schema), "run `make openapi` and commit openapi/"


def test_schema_is_openapi_3_0_with_one_operation_per_action_each_with_a_fixture(schema: dict[str, Any]) -> None:
    # GIVEN the schema generated from the resolver's routes, and the event fixtures in events/
    actions = {(method.upper(), path): op["operationId"] for method, path, op in operations(schema)}
    fixtures = {name: load_event(name) for name in fixture_names()}
    called = {
        (e["httpMethod"], e["apiPath"])
        for name, e in fixtures.items()
        if "apiPath" in e and not name.startswith("bad_")
    }
    # THEN it is OpenAPI 3.0, each action has its own operationId, the committed file lists the same
    # actions (devtools.events.operations reads it for the tests and tools), and every action has a
    # fixture that calls it while every well-formed fixture calls an action
    assert schema["openapi"].startswith("3.0.")
    assert len(set(actions.values())) == len(actions)
    assert {(op.method, op.path): op.operation_id for op in committed_operations()} == actions
    assert called == set(actions)


def test_every_operation_and_parameter_is_described_for_a_model(schema: dict[str, Any]) -> None:
    for _method, path, operation in operations(schema):
        assert len(operation["description"]) > 80, path
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), f"{path} {parameter['name']}"
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        for name, field in body.get("properties", {}).items():
            assert field.get("description"), f"{path} body {name}"


def test_only_send_and_reply_require_confirmation(schema: dict[str, Any]) -> None:
    confirmed = {op["operationId"] for _m, _p, op in operations(schema) if op.get("x-requireConfirmation") == "ENABLED"}
    assert confirmed == {"sendEmail", "replyToEmail"}


def test_schema_avoids_what_bedrock_does_not_read(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "components" not in schema
    assert not [node for node in walk(schema) if "enum" in node or "anyOf" in node]
    for _method, path, operation in operations(schema):
        assert set(operation.get("requestBody", {}).get("content", {"application/json": 1})) == {"application/json"}, (
            path
        )


def test_no_action_can_approve_or_touch_the_account(schema: dict[str, Any]) -> None:
    words = " ".join(p for p in schema["paths"]).lower()
    for forbidden in ("approve", "decide", "oversight", "key", "webhook", "account", "mode"):
        assert forbidden not in words


def test_the_committed_schema_is_a_valid_openapi_document() -> None:
    # GIVEN the schema file Bedrock receives (and template.yaml inlines)
    document = json.loads(SCHEMA_PATH.read_text())
    # THEN a validator made for OpenAPI finds nothing wrong, and the required info.title survived
    validate(document)
    assert document["info"]["title"] == TITLE


def test_the_inbox_status_filter_admits_exactly_multimails_values(schema: dict[str, Any]) -> None:
    # GIVEN the inbox's status parameter (a pattern, since Bedrock does not read `enum`)
    (status,) = [p for p in schema["paths"]["/inbox"]["get"]["parameters"] if p["name"] == "status"]
    pattern = re.compile(status["schema"]["pattern"])
    # THEN each value of MultiMail's enum matches and is described, and nothing else matches
    for value in LIST_STATUSES:
        assert pattern.match(value), value
        assert value in status["description"]
    for value in ("pending_scan", "sent", "unread,read", "UNREAD", ""):
        assert not pattern.match(value), value


def test_list_limits_stay_within_multimails_bounds(schema: dict[str, Any]) -> None:
    for path in ("/inbox", "/pending"):
        (limit,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert limit["schema"]["minimum"] >= 1
        assert limit["schema"]["maximum"] <= 100


def test_the_readme_lists_exactly_the_schemas_actions(schema: dict[str, Any]) -> None:
    # GIVEN the README's table of actions, written by `make openapi`
    text = README_PATH.read_text(encoding="utf-8")
    table = text.split(ACTIONS_BEGIN, 1)[1].split(ACTIONS_END, 1)[0].strip()
    # THEN it is the table made from the committed schema: one row per operation, no other
    assert table == actions_table(schema)
    assert len(table.splitlines()) == 2 + len(committed_operations())  # the header, its rule, a row each
    for operation in committed_operations():
        assert f"`{operation.operation_id}`" in table
