"""The contract itself: a valid OpenAPI 3.0 document, and the same set of routes as the stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate

from devtools.multimail_standin import LIST_STATUSES, route_table
from tests.contract.contract import CONTRACT_PATH, check_response, document, mock_request, normalized, operations


def test_the_contract_is_a_valid_openapi_document() -> None:
    # GIVEN contract/multimail.openapi.json
    # WHEN openapi-spec-validator checks it
    # THEN it raises nothing, and it says which spec version its facts come from
    validate(document())
    assert document()["openapi"].startswith("3.0")
    assert document()["x-source"]["spec_version"] == "2.0.0"


def test_every_operation_names_where_its_facts_come_from() -> None:
    # GIVEN the contract's operations
    # WHEN their provenance is read
    missing = [
        f"{method.upper()} {path}"
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if "spec paths[" not in operation.get("x-source", "")
    ]
    # THEN each cites the spec path it was written from
    assert missing == []


def test_the_stand_in_serves_exactly_the_contract_routes() -> None:
    # GIVEN the stand-in's route table and the contract's paths
    served = {(method, normalized(template)) for method, template in route_table()}
    # WHEN they are compared
    only_in_standin = served - operations()
    only_in_contract = operations() - served
    # THEN neither has a route the other lacks
    assert only_in_standin == set(), "the stand-in serves routes the contract does not describe"
    assert only_in_contract == set(), "the contract describes routes the stand-in does not serve"


def test_the_list_status_enum_is_the_same_in_contract_and_stand_in() -> None:
    # GIVEN the status filter of the list endpoint in the contract
    (status,) = [
        p
        for p in document()["paths"]["/v1/mailboxes/{mailboxId}/emails"]["get"]["parameters"]
        if "name" in p and p["name"] == "status"
    ]
    # WHEN it is compared with what the stand-in accepts
    # THEN they are the same values, and neither offers pending_scan or sent
    assert status["schema"]["enum"] == list(LIST_STATUSES)
    assert not {"pending_scan", "sent"} & set(LIST_STATUSES)


@pytest.mark.parametrize(
    ("method", "path", "status", "answer"),
    [
        # the stand-in's answers before issue 11 that are still wrong: a missing field, an undocumented
        # status, a value outside one of the spec's own enums, a wrong type (additive fields are not wrong)
        ("GET", "/v1/mailboxes/mbx_agent/emails", 200, {"next_cursor": None}),
        ("POST", "/v1/mailboxes/mbx_agent/send", 422, {"error": "'to' is required"}),
        ("GET", "/v1/mailboxes/mbx_agent/emails", 200, {"emails": [{"id": "em_1", "status": "pending"}]}),
        ("GET", "/v1/account", 200, {"sending_disabled": "no"}),
        ("POST", "/v1/mailboxes/mbx_agent/send", 429, {"error": "slow down", "daily_sent": "ten"}),
        ("GET", "/v1/oversight/pending", 200, {"pending": []}),
        ("POST", "/v1/oversight/decide", 200, {"id": "em_1", "status": "sent"}),
        (
            "GET",
            "/v1/mailboxes/mbx_agent/emails/em_1",
            200,
            {"id": "em_1", "status": "read", "attachments": [{"name": "a", "size": "48 KB"}]},
        ),
    ],
)
def test_the_contract_refuses_the_old_shapes(method: str, path: str, status: int, answer: Any) -> None:
    # GIVEN an answer shaped as the stand-in gave it before it followed the spec
    request = mock_request(method, path, headers={"Authorization": "Bearer mm_live_x"})
    # WHEN it is checked against the contract
    # THEN openapi-core refuses it
    with pytest.raises(OpenAPIError):
        check_response(request, status, {"content-type": "application/json"}, json.dumps(answer).encode())


@pytest.mark.parametrize(
    ("method", "path", "status", "answer"),
    [
        # real answers carry more than the spec lists: the contract must take them
        (
            "POST",
            "/v1/mailboxes/mbx_agent/send",
            429,
            {"error": "Daily limit", "warmup_stage": "week_1", "daily_sent": 10, "daily_limit": 10, "hint": "Wait."},
        ),
        ("POST", "/v1/mailboxes/mbx_agent/reply/em_1", 429, {"error": "quota exceeded", "warmup_stage": 2}),
        (
            "GET",
            "/v1/mailboxes",
            200,
            {
                "mailboxes": [
                    {
                        "id": "mbx_1",
                        "address": "a@x.example",
                        "oversight_mode": "gated_send",
                        "mcp_configured": 1,
                        "default_gate_timing": "schedule_first",
                    }
                ]
            },
        ),
        ("POST", "/v1/mailboxes/mbx_agent/send", 202, {"id": "em_1", "status": "pending_scan", "scheduled": True}),
        ("POST", "/v1/mailboxes/mbx_agent/send", 202, {"id": "em_1", "status": "scheduled"}),
        ("POST", "/v1/mailboxes/mbx_agent/emails/em_1/cancel", 200, {"id": "em_1", "status": "cancelled", "at": 1}),
        ("GET", "/v1/account", 200, {"plan": "enterprise", "sending_disabled": False, "enforcement_tier": "none"}),
        ("GET", "/v1/usage", 200, {"emails_sent": 3, "storage_used_bytes": 10}),
        ("GET", "/v1/mailboxes/mbx_agent/emails/em_1", 200, {"id": "em_1", "status": "read", "labels": ["x"]}),
    ],
)
def test_the_contract_takes_additive_fields_and_values_the_spec_only_exemplifies(
    method: str, path: str, status: int, answer: Any
) -> None:
    # GIVEN an answer with fields beyond the spec's schema, or a value where the spec gives only an example
    request = mock_request(method, path, headers={"Authorization": "Bearer mm_live_x"})
    # WHEN it is checked against the contract
    # THEN it passes: the contract is never stricter than the spec
    check_response(request, status, {"content-type": "application/json"}, json.dumps(answer).encode())


def test_every_assumption_beyond_the_spec_is_listed_in_the_docs() -> None:
    # GIVEN the contract's x-assumption notes, and the docs' list of assumptions
    notes: list[str] = []

    def collect(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "x-assumption" in node:
                notes.append(where)
            for key, value in node.items():
                collect(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                collect(value, f"{where}/{index}")

    collect(document(), "")
    listed = ASSUMPTIONS_DOC.read_text()
    # WHEN each note's place is looked up in the docs
    missing = [where for where in notes if _place(where) not in listed]
    # THEN every one is listed there by its place in the contract
    assert notes
    assert missing == []


ASSUMPTIONS_DOC = CONTRACT_PATH.parents[1] / "docs" / "multimail-assumptions.md"


def _place(where: str) -> str:
    """`/paths//v1/usage/get` -> `GET /v1/usage`; `/components/schemas/Error` -> `Error`."""
    parts = where.split("/")
    if parts[1] == "paths":
        path, method = "/".join(parts[2:-1]), parts[-1]
        return f"{method.upper()} /{path.strip('/')}"
    return parts[-1]
