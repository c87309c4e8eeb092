"""Every field's description tells the model the type the schema gives it, nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tools.openapi import generate, generate_tools

# Words that invite a model to write one string where the schema wants a list.
TEXT_LIST_WORDING = re.compile(r"comma|separated by|semicolon", re.IGNORECASE)


def properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, schema) of every named property, at any depth of a generated document."""
    if isinstance(node, dict):
        for name, schema in node.get("properties", {}).items():
            if isinstance(schema, dict):
                yield f"{where}.{name}", schema
        for key, value in node.items():
            yield from properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from properties(item, f"{where}[{index}]")


def is_array(schema: dict[str, Any]) -> bool:
    kinds = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    return any(kind.get("type") == "array" for kind in kinds if isinstance(kind, dict))


@pytest.mark.parametrize("document", ["openapi", "tools"])
def test_no_array_field_is_described_as_separated_text(document: str) -> None:
    # GIVEN the generated schema that a model reads (the action group's, or the gateway's tools)
    generated = generate() if document == "openapi" else generate_tools()
    arrays = [(where, schema) for where, schema in properties(generated) if is_array(schema)]
    # WHEN the array fields' descriptions are read
    # THEN there are some (to, cc, bcc), and none asks for comma- or otherwise separated text
    assert {where.rsplit(".", 1)[-1] for where, _ in arrays} >= {"to", "cc", "bcc"}
    wrong = [where for where, schema in arrays if TEXT_LIST_WORDING.search(schema.get("description", ""))]
    assert not wrong, f"array fields described as separated text: {wrong}"


def test_the_recipients_description_names_a_list() -> None:
    # GIVEN the gateway's send tool
    (send,) = [tool for tool in generate_tools() if tool["name"] == "sendEmail"]
    # THEN `to` is an array and its description says so in the model's words
    to = send["inputSchema"]["properties"]["to"]
    assert to["type"] == "array"
    assert "list" in to["description"]
