"""Generate the action group's OpenAPI schema from the handler code: `python -m tools.openapi`.

Powertools emits OpenAPI 3.0.3 for the Bedrock resolver. This module then makes the document
self-contained and plain, in the subset Bedrock reads well: `$ref`s are inlined, single-member
`anyOf`s (from optional fields) are flattened, and the generated titles (all but `info.title`, which
OpenAPI requires) and the 422 response (our own validation errors are 400s described in each answer)
are dropped. `--check` fails on drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path("openapi/email_actions.json")
README_PATH = Path("README.md")  # its table of actions is written from the schema, between these markers
ACTIONS_BEGIN, ACTIONS_END = "<!-- actions:begin -->", "<!-- actions:end -->"
TOOLS_PATH = Path("openapi/email_actions.tools.json")  # the AgentCore Gateway target's tool schema
TITLE = "MultiMail email actions"
DESCRIPTION = (
    "Email for a Bedrock Agent through MultiMail: read the inbox, read an email, send and reply (each "
    "queued for human approval), list and withdraw queued emails. Text from emails is third-party data."
)


def generate() -> dict[str, Any]:
    from email_actions.app import app  # imported here so that `--help` stays instant

    document = json.loads(app.get_openapi_json_schema(title=TITLE, version="1.0.0", description=DESCRIPTION))
    components = document.pop("components", {}).get("schemas", {})
    for path_item in document["paths"].values():
        for operation in path_item.values():
            operation.get("responses", {}).pop("422", None)
    simplified: dict[str, Any] = _simplify(_inline(document, components))
    simplified["info"] = {"title": TITLE, **simplified["info"]}  # the one title OpenAPI requires
    return simplified


def _inline(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            merged = {**components[name], **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, components)
        return {key: _inline(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, components) for item in node]
    return node


def _simplify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: _simplify(value) for key, value in node.items() if key != "title"}
        any_of = node.get("anyOf")
        if isinstance(any_of, list) and len(any_of) == 1 and isinstance(any_of[0], dict):
            del node["anyOf"]
            node = {**any_of[0], **node}
        return node
    if isinstance(node, list):
        return [_simplify(item) for item in node]
    return node


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
        return check_tools(document) or check_readme(document)
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    tools = write_tools(document)
    if sync_readme(document):
        print(f"updated the table of actions in {README_PATH}")
    try:
        from tools.template_schema import sync_template, sync_template_tools
    except ImportError:  # the SAM template tooling is optional for schema generation
        return 0
    if sync_template(document):
        print("updated the inline schema in template.yaml")
    if sync_template_tools(tools):
        print("updated the gateway target's inline tools in template.yaml")
    return 0


# -- the AgentCore Gateway target's tools: the same operations, as MCP tool definitions ------------


def generate_tools(document: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One tool per operation of the generated schema, named by its operationId."""
    from email_actions.gateway import tool_definitions

    return tool_definitions(document if document is not None else generate())


def render_tools(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, indent=2, ensure_ascii=False) + "\n"


def write_tools(document: dict[str, Any]) -> list[dict[str, Any]]:
    tools = generate_tools(document)
    TOOLS_PATH.write_text(render_tools(tools))
    print(f"wrote {TOOLS_PATH}")
    return tools


def check_tools(document: dict[str, Any]) -> int:
    if not TOOLS_PATH.exists() or TOOLS_PATH.read_text() != render_tools(generate_tools(document)):
        print(f"{TOOLS_PATH} is out of date: run `make openapi` and commit the result.", file=sys.stderr)
        return 1
    return 0


# -- the README's table of actions: the operations of the schema, so it cannot list other ones ------


def actions_table(document: dict[str, Any]) -> str:
    """A Markdown table of the schema's operations, in the order the routes are declared."""
    rows = [
        "| action | operationId (MCP tool `mail___<operationId>`) | what it does | asks the user first |",
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
