"""The contract itself: a valid OpenAPI 3.0 document, and the same set of routes as the stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate

from devtools.multimail_standin import LIST_STATUSES, route_table
from tests.contract.contract import check_response, document, mock_request, normalized, operations


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
        # the stand-in's answers before issue 11: each one a drift the contract must catch
        ("GET", "/v1/mailboxes/mbx_agent/emails", 200, {"emails": [], "next_cursor": None}),
        ("GET", "/v1/mailboxes/mbx_agent/emails", 200, {"emails": [{"id": "em_1", "snippet": "hi"}], "cursor": None}),
        ("GET", "/v1/mailboxes/mbx_agent/emails", 200, {"emails": [{"id": "em_1", "cc": []}], "cursor": None}),
        ("POST", "/v1/mailboxes/mbx_agent/send", 202, {"id": "em_1", "status": "pending_send_approval"}),
        ("POST", "/v1/mailboxes/mbx_agent/send", 422, {"error": "'to' is required"}),
        ("GET", "/v1/oversight/pending", 200, {"pending": []}),
        ("POST", "/v1/oversight/decide", 200, {"id": "em_1", "status": "sent"}),
        (
            "GET",
            "/v1/mailboxes/mbx_agent/emails/em_1",
            200,
            {"id": "em_1", "status": "read", "attachments": [{"filename": "a"}]},
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
