"""Write what the operation table implies: `python -m tools.openapi` (`make openapi`).

From `email_actions.operations` (the one list of actions, each with its request model) this writes
- the action group's OpenAPI 3.0.3 document (openapi/email_actions.json), in the subset Bedrock reads
  well: every schema inline, optional fields as `nullable`, no titles; its copy in template.yaml;
- the AgentCore Gateway target's tools (openapi/email_actions.tools.json), which `make mcp` and the
  Converse loop serve too; their copy in template.yaml;
- the README's table of actions.

`arguments` is the one reader of the request models' schemas: the documents above and the hardening
strategies use it. `--check` fails on drift. The function reads none of this at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email_actions.operations import Operation

SCHEMA_PATH = Path("openapi/email_actions.json")
README_PATH = Path("README.md")  # its table of actions is written from the schema, between these markers
ACTIONS_BEGIN, ACTIONS_END = "<!-- actions:begin -->", "<!-- actions:end -->"
TOOLS_PATH = Path("openapi/email_actions.tools.json")  # the AgentCore Gateway target's tool schema
TITLE = "MultiMail email actions"
DESCRIPTION = (
    "Email for an agent through MultiMail: read the inbox, read an email, send and reply (each under the "
    "mailbox's human oversight), list and withdraw queued emails. Text from emails is third-party data."
)
# The JSON Schema keywords a tool keeps (MCP clients and Converse models read them); OpenAPI-only ones
# (nullable, additionalProperties) are dropped. The gateway target's copy in template.yaml keeps only
# what AgentCore's SchemaDefinition holds (tools/template_schema.py); the limits are in the
# descriptions too, and the request models check them.
TOOL_SCHEMA_KEYS = (
    "type", "description", "items", "properties", "required", "enum", "default", "minimum", "maximum",
    "pattern", "minLength", "maxLength", "minItems", "maxItems",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument of an operation: where it travels in the action group's schema, and its JSON schema."""

    name: str
    location: str  # path, query or body
    required: bool
    schema: dict[str, Any]


def arguments(operation: Operation) -> list[Argument]:
    """The operation's arguments, in the request model's order, with OpenAPI 3.0 schemas."""
    model_schema = operation.request.model_json_schema()
    definitions = model_schema.get("$defs", {})
    required = set(model_schema.get("required", []))
    found: list[Argument] = []
    for name, schema in model_schema.get("properties", {}).items():
        location = operation.location(name)
        found.append(Argument(name, location, location == "path" or name in required, _plain(schema, definitions)))
    return found


def _plain(node: Any, definitions: Mapping[str, Any]) -> Any:
    """A JSON schema as OpenAPI 3.0 writes it: `$ref`s inlined, `anyOf [X, null]` as X with
    `nullable`, and no titles or null defaults."""
    if isinstance(node, list):
        return [_plain(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        node = {**definitions[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    members = node.get("anyOf")
    if isinstance(members, list) and {"type": "null"} in members and len(members) == 2:
        (member,) = (m for m in members if m != {"type": "null"})
        node = {**member, **{k: v for k, v in node.items() if k != "anyOf"}, "nullable": True}
    return {
        key: _plain(value, definitions)
        for key, value in node.items()
        if key != "title" and not (key == "default" and value is None)
    }


def generate() -> dict[str, Any]:
    from email_actions.operations import OPERATIONS  # imported here so that `--help` stays instant

    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _openapi_operation(operation)
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "description": DESCRIPTION, "version": "1.0.0"},
        "servers": [{"url": "/"}],
        "paths": paths,
    }


def _openapi_operation(operation: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "summary": operation.summary,
        "description": operation.description,
        "operationId": operation.name,
    }
    given = arguments(operation)
    parameters = [
        {
            "name": argument.name,
            "in": argument.location,
            "required": argument.required,
            "description": argument.schema.get("description", ""),
            "schema": argument.schema,
        }
        for argument in given
        if argument.location != "body"
    ]
    if parameters:
        document["parameters"] = parameters
    body = [argument for argument in given if argument.location == "body"]
    if body:
        body_required = [argument.name for argument in body if argument.required]
        schema: dict[str, Any] = {
            "type": "object",
            "description": operation.request.__doc__ or "",
            "properties": {argument.name: argument.schema for argument in body},
            "additionalProperties": False,
        }
        if body_required:
            schema["required"] = body_required
        document["requestBody"] = {
            "description": operation.request.__doc__ or "",
            "required": bool(body_required),
            "content": {"application/json": {"schema": schema}},
        }
    document["responses"] = {
        "200": {
            "description": operation.answer_description,
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
        }
    }
    if operation.confirm:
        document["x-requireConfirmation"] = "ENABLED"
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed schema differs from the code")
    args = parser.parse_args(argv)
    document = generate()
    text = render(document)
    if args.check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH} is out of date: run `make openapi` and commit the result.", file=sys.stderr)
            return 1
        return check_tools() or check_readme(document)
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    tools = write_tools()
    if sync_readme(document):
        print(f"updated the table of actions in {README_PATH}")
    try:
        from tools.template_schema import sync_template, sync_template_rules, sync_template_tools
    except ImportError:  # the SAM template tooling is optional for schema generation
        return 0
    import prompts

    if sync_template_rules(prompts.brief(), prompts.full()):
        print("updated the agent's rules in template.yaml (from prompts/agent_rules.md)")
    if sync_template(document):
        print("updated the inline schema in template.yaml")
    if sync_template_tools(tools):
        print("updated the gateway target's inline tools in template.yaml")
    return 0


# -- the AgentCore Gateway target's tools: the same operations, as MCP tool definitions ------------


def generate_tools() -> list[dict[str, Any]]:
    """One tool per operation, named by its operation's name, its arguments merged into one object."""
    from email_actions.operations import OPERATIONS

    tools: list[dict[str, Any]] = []
    for operation in OPERATIONS:
        given = arguments(operation)
        input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {argument.name: _tool_schema(argument.schema) for argument in given},
        }
        required = [argument.name for argument in given if argument.required]
        if required:
            input_schema["required"] = required
        tools.append(
            {
                "name": operation.name,
                "description": f"{operation.summary.rstrip('.')}. {operation.description}",
                "inputSchema": input_schema,
            }
        )
    return tools


def _tool_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {key: schema[key] for key in TOOL_SCHEMA_KEYS if key in schema}
    kept["type"] = str(schema.get("type", "string"))
    if isinstance(kept.get("items"), Mapping):
        kept["items"] = _tool_schema(kept["items"])
    if isinstance(kept.get("properties"), Mapping):
        kept["properties"] = {name: _tool_schema(value) for name, value in kept["properties"].items()}
    return kept


def render_tools(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, indent=2, ensure_ascii=False) + "\n"


def write_tools() -> list[dict[str, Any]]:
    tools = generate_tools()
    TOOLS_PATH.write_text(render_tools(tools))
    print(f"wrote {TOOLS_PATH}")
    return tools


def check_tools() -> int:
    if not TOOLS_PATH.exists() or TOOLS_PATH.read_text() != render_tools(generate_tools()):
        print(f"{TOOLS_PATH} is out of date: run `make openapi` and commit the result.", file=sys.stderr)
        return 1
    return 0


# -- the README's table of actions: the operations of the schema, so it cannot list other ones ------


def actions_table(document: dict[str, Any]) -> str:
    """A Markdown table of the schema's operations, in the order the routes are declared."""
    rows = [
        "| action (Bedrock Agents) | tool name | what it does | asks the user first |",
        "|---|---|---|---|",
    ]
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            confirm = "yes" if operation.get("x-requireConfirmation") == "ENABLED" else ""
            summary = operation["summary"].replace("|", "\\|")
            rows.append(f"| `{method.upper()} {path}` | `{operation['operationId']}` | {summary} | {confirm} |")
    return "\n".join(rows)


def _readme_with_table(text: str, table: str) -> str:
    before, begin, rest = text.partition(ACTIONS_BEGIN)
    _, end, after = rest.partition(ACTIONS_END)
    if not begin or not end:
        raise SystemExit(f"{README_PATH} has no {ACTIONS_BEGIN} ... {ACTIONS_END} markers for the table of actions")
    return f"{before}{ACTIONS_BEGIN}\n{table}\n{ACTIONS_END}{after}"


def sync_readme(document: dict[str, Any]) -> bool:
    text = README_PATH.read_text(encoding="utf-8")
    updated = _readme_with_table(text, actions_table(document))
    if updated == text:
        return False
    README_PATH.write_text(updated, encoding="utf-8")
    return True


def check_readme(document: dict[str, Any]) -> int:
    text = README_PATH.read_text(encoding="utf-8")
    if _readme_with_table(text, actions_table(document)) != text:
        print(
            f"{README_PATH}'s table of actions is out of date: run `make openapi` and commit the result.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
