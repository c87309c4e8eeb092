"""Our MultiMail contract (contract/multimail.openapi.json), loaded once, and how to check traffic against it.

Why openapi-core and not bare jsonschema: the contract is an OpenAPI 3.0 document, and what we check is
HTTP traffic, not loose JSON. openapi-core finds the operation from the method and the concrete path
(``/v1/mailboxes/mbx_agent/reply/em_1`` -> ``/v1/mailboxes/{mailboxId}/reply/{emailId}``), casts and
checks query parameters as the contract types them (``limit=101`` is a string on the wire and an integer
1..100 in the contract), checks the bearer security requirement, picks the response schema by status code
(an undocumented status is itself a failure), checks declared response headers (Retry-After), and follows
``$ref``s and OpenAPI's ``nullable``, which JSON Schema draft 4..2020 does not know. With bare jsonschema
we would re-implement all of that by hand, and that hand-written glue would be the thing that drifts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from devtools.multimail_standin import RecordedRequest

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "contract" / "multimail.openapi.json"
# Requests are checked as if they went to MultiMail itself: the contract's first server.
HOST_URL = "https://api.multimail.dev"


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return loaded


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(document())


def operations() -> set[tuple[str, str]]:
    """Every (METHOD, path template) of the contract, parameters written ``{}``."""
    return {(method.upper(), normalized(path)) for path, item in document()["paths"].items() for method in item}


def documented_statuses() -> set[tuple[str, str, int]]:
    """Every (METHOD, path template, status) the contract documents."""
    return {
        (method.upper(), normalized(path), int(status))
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }


def normalized(template: str) -> str:
    """``/v1/mailboxes/{mailboxId}`` and ``/v1/mailboxes/{mailbox_id}`` both become ``/v1/mailboxes/{}``."""
    return re.sub(r"\{[^}]+\}", "{}", template)


def template_of(method: str, path: str) -> str:
    """The contract's path template (normalized) that a concrete path falls under."""
    for candidate_method, template in operations():
        pattern = "^" + re.escape(template).replace(r"\{\}", "[^/]+") + "$"
        if candidate_method == method.upper() and re.match(pattern, path):
            return template
    raise AssertionError(f"{method} {path} is not an operation of the contract")


def mock_request(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> MockRequest:
    return MockRequest(
        HOST_URL,
        method.lower(),
        path,
        args=dict(query or {}),
        headers=dict(headers or {}),
        data=body or None,
        content_type="application/json",
    )


def check_request(recorded: RecordedRequest) -> None:
    """Raise (an openapi-core ValidationError) unless the request is one the contract allows."""
    openapi().validate_request(
        mock_request(recorded.method, recorded.path, query=recorded.query, headers=recorded.headers, body=recorded.body)
    )


def check_response(request: MockRequest, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raise unless ``status`` is documented for the request's operation and the body and headers fit it."""
    content_type = headers.get("content-type", "application/json").split(";")[0].strip()
    response = MockResponse(body, status_code=status, headers=dict(headers), content_type=content_type)
    openapi().validate_response(request, response)
