"""Keep template.yaml in step with what it is made from, by editing its text, never by round-tripping it.

- The agent's action group carries the OpenAPI schema inline (``ApiSchema: Payload: |``), because SAM
  does not upload a local schema file for ``AWS::Bedrock::Agent``. ``sync_template`` rewrites that
  block from ``openapi/email_actions.json``; ``read_template_payload`` parses it back.
- Two descriptions carry fingerprints, because CloudFormation only makes a new version when something
  changes: ``guardrail-config <hash>`` on the guardrail version (a new description replaces the
  version), and ``agent-config <hash>`` on the agent alias (an updated alias makes a new agent
  version). ``refresh_fingerprints`` recomputes both from the parsed template.
- ``transform`` expands the SAM template into plain CloudFormation for checkov. It needs the
  ``samtranslator`` package, which the SAM CLI's own virtual environment has.

The edits are surgical: comments, formatting and the short-form intrinsics (!Ref, !Sub, !GetAtt...)
stay as they are written. The parsing uses cfn-lint's decoder, which understands those tags.

Usage:
    python -m tools.template_schema fingerprints [--check] [TEMPLATE]
    python -m tools.template_schema transform OUTPUT_JSON [TEMPLATE]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

DEFAULT_TEMPLATE = Path("template.yaml")

_PAYLOAD_KEY = re.compile(r"^(?P<indent> *)Payload: *\|[-+]? *$")
# Characters that YAML does not allow, or reads as line breaks, inside a block scalar. They can
# only occur inside JSON strings, where a \u escape means the same thing.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_FINGERPRINT_LENGTH = 12
_GUARDRAIL_MARK = "guardrail-config"
_AGENT_MARK = "agent-config"


class TemplateFormatError(ValueError):
    """template.yaml does not have the shape these edits rely on."""


# ------------------------------------------------------------------ the inline OpenAPI payload


def format_payload(schema: object) -> str:
    """The schema as deterministic, human-readable JSON that is safe inside a YAML block scalar."""
    text = json.dumps(schema, indent=2, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _lines(text: str) -> list[str]:
    """The template's lines, split at \\n only (str.splitlines also splits at \\x85, \\u2028...)."""
    return text.split("\n")


def _payload_block(lines: list[str]) -> tuple[int, int, int]:
    """(index of the `Payload: |` line, end of its content lines, indentation of the key)."""
    return _key_block(
        lines,
        _PAYLOAD_KEY,
        "`Payload: |` block",
        "the action group's ApiSchema must carry the schema inline as a literal block",
    )


def _key_block(lines: list[str], key: re.Pattern[str], name: str, reason: str) -> tuple[int, int, int]:
    """(index of the one line that matches `key`, end of the lines indented under it, the key's indentation)."""
    keys = [index for index, line in enumerate(lines) if key.match(line.rstrip("\r"))]
    if len(keys) != 1:
        raise TemplateFormatError(f"expected exactly one {name} in the template, found {len(keys)}: {reason}")
    start = keys[0]
    match = key.match(lines[start].rstrip("\r"))
    assert match is not None  # found by the same expression above
    indent = len(match.group("indent"))
    end = start + 1
    last_content = start
    while end < len(lines):
        line = lines[end].rstrip("\r")
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        if line.strip():
            last_content = end
        end += 1
    # Blank lines after the block separate it from the next key; they are not part of the payload.
    return start, last_content + 1, indent


def _render_payload(schema: Mapping[str, Any], key_indent: int) -> list[str]:
    pad = " " * (key_indent + 2)
    return [f"{pad}{line}" for line in format_payload(schema).split("\n")]


def read_template_payload(template_path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The OpenAPI schema that the template's action group carries inline."""
    lines = _lines(template_path.read_text(encoding="utf-8"))
    start, end, _ = _payload_block(lines)
    payload = json.loads("\n".join(lines[start + 1 : end]))
    if not isinstance(payload, dict):
        raise TemplateFormatError("the inline ApiSchema payload is not a JSON object")
    return payload


def sync_template(schema: dict[str, Any], template_path: Path = DEFAULT_TEMPLATE) -> bool:
    """Write `schema` into the template's inline ApiSchema payload and refresh the fingerprints.

    Returns True when the file changed.
    """
    original = template_path.read_text(encoding="utf-8")
    lines = _lines(original)
    start, end, indent = _payload_block(lines)
    lines[start + 1 : end] = _render_payload(schema, indent)
    updated = with_fresh_fingerprints("\n".join(lines))
    if updated == original:
        return False
    template_path.write_text(updated, encoding="utf-8")
    return True


# ------------------------------------------------------------------ the gateway target's inline tools

_TOOLS_KEY = re.compile(r"^(?P<indent> *)InlinePayload: *$")
_SCHEMA_KEYS = {"type": "Type", "description": "Description", "items": "Items", "required": "Required"}


def cloudformation_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The MCP tool definitions (openapi/email_actions.tools.json) in CloudFormation's spelling."""
    return [
        {
            "Name": tool["name"],
            "Description": tool["description"],
            "InputSchema": _cloudformation_schema(tool["inputSchema"]),
        }
        for tool in tools
    ]


def _cloudformation_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":  # a map of field names, which keep their spelling
            converted["Properties"] = {name: _cloudformation_schema(field) for name, field in value.items()}
        elif key == "items":
            converted["Items"] = _cloudformation_schema(value)
        elif key in _SCHEMA_KEYS:  # what AgentCore's SchemaDefinition holds; limits stay in the descriptions
            converted[_SCHEMA_KEYS[key]] = value
    return converted


def _tools_block(lines: list[str]) -> tuple[int, int, int]:
    """(index of the `InlinePayload:` line, end of its content lines, indentation of the key)."""
    return _key_block(
        lines, _TOOLS_KEY, "`InlinePayload:` key", "the gateway target's ToolSchema must carry the tools inline"
    )


def sync_template_tools(tools: list[dict[str, Any]], template_path: Path = DEFAULT_TEMPLATE) -> bool:
    """Write the tools into the gateway target's `InlinePayload` (as JSON, which YAML reads); True on change."""
    original = template_path.read_text(encoding="utf-8")
    lines = _lines(original)
    start, end, indent = _tools_block(lines)
    pad = " " * (indent + 2)
    lines[start + 1 : end] = [f"{pad}{line}" for line in format_payload(cloudformation_tools(tools)).split("\n")]
    updated = "\n".join(lines)
    if updated == original:
        return False
    template_path.write_text(updated, encoding="utf-8")
    return True


def read_template_tools(template_path: Path = DEFAULT_TEMPLATE) -> list[dict[str, Any]]:
    """The tools that the template's gateway target carries inline (CloudFormation spelling)."""
    template = parse_template(template_path.read_text(encoding="utf-8"))
    _, target = resource_of_type(template, "AWS::BedrockAgentCore::GatewayTarget")
    payload = target["Properties"]["TargetConfiguration"]["Mcp"]["Lambda"]["ToolSchema"]["InlinePayload"]
    if not isinstance(payload, list):
        raise TemplateFormatError("the gateway target's InlinePayload is not a list of tools")
    return payload


# ------------------------------------------------------------------ the agent's rules (prompts/agent_rules.md)

_AGENT_INSTRUCTION_KEY = re.compile(r"^(?P<indent> *)Instruction: *\|[-+]? *$")
_GATEWAY_INSTRUCTIONS_KEY = re.compile(r"^(?P<indent> *)Instructions: *[|>][-+]? *$")


def sync_template_rules(brief: str, full: str, template_path: Path = DEFAULT_TEMPLATE) -> bool:
    """Write the rules into the Agent's `Instruction` and the brief into the gateway's MCP `Instructions`
    (both literal blocks); True when the file changed."""
    original = template_path.read_text(encoding="utf-8")
    lines = _lines(original)
    for key, text, name in (
        (_AGENT_INSTRUCTION_KEY, full, "the Agent's `Instruction: |`"),
        (_GATEWAY_INSTRUCTIONS_KEY, brief, "the gateway's MCP `Instructions: |-`"),
    ):
        start, end, indent = _key_block(lines, key, name, "the agent's rules are written there from prompts/")
        key_line = lines[start]
        lines[start] = key_line[: key_line.index(":") + 1] + " |-"
        pad = " " * (indent + 2)
        lines[start + 1 : end] = [f"{pad}{line}".rstrip() for line in text.split("\n")]
    updated = with_fresh_fingerprints("\n".join(lines))
    if updated == original:
        return False
    template_path.write_text(updated, encoding="utf-8")
    return True


# ------------------------------------------------------------------ fingerprints


def parse_template(text: str) -> dict[str, Any]:
    """The template as plain data, with short-form intrinsics in their long form."""
    template, matches = decode_str(text)
    if matches or not isinstance(template, dict):
        details = "; ".join(str(match) for match in matches or [])
        raise TemplateFormatError(f"template.yaml does not parse: {details}")
    # Through JSON, so that the result holds only plain dicts, lists and scalars.
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


def resource_of_type(template: Mapping[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    """The one resource of `resource_type`, as (logical ID, resource)."""
    found = [
        (logical_id, resource)
        for logical_id, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict) and resource.get("Type") == resource_type
    ]
    if len(found) != 1:
        raise TemplateFormatError(f"expected exactly one {resource_type} in the template, found {len(found)}")
    return found[0]


def fingerprint(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:_FINGERPRINT_LENGTH]


def expected_fingerprints(template: Mapping[str, Any]) -> dict[str, str]:
    """What the guardrail version's and the alias's descriptions must carry."""
    _, guardrail = resource_of_type(template, "AWS::Bedrock::Guardrail")
    _, agent = resource_of_type(template, "AWS::Bedrock::Agent")
    return {
        _GUARDRAIL_MARK: fingerprint(guardrail.get("Properties", {})),
        _AGENT_MARK: fingerprint(agent.get("Properties", {})),
    }


def _mark_pattern(mark: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(mark)} (?P<hash>[0-9a-f]{{{_FINGERPRINT_LENGTH}}})\b")


def written_fingerprints(text: str) -> dict[str, str]:
    """The fingerprints as the template's text carries them."""
    written = {}
    for mark in (_GUARDRAIL_MARK, _AGENT_MARK):
        hits = list(_mark_pattern(mark).finditer(text))
        if len(hits) != 1:
            raise TemplateFormatError(
                f"expected exactly one `{mark} <{_FINGERPRINT_LENGTH} hex digits>` in the template, found {len(hits)}"
            )
        written[mark] = hits[0].group("hash")
    return written


def with_fresh_fingerprints(text: str) -> str:
    """`text` with both fingerprints recomputed from its own content."""
    written_fingerprints(text)  # fails early when a mark is missing or doubled
    for mark, value in expected_fingerprints(parse_template(text)).items():
        text = _mark_pattern(mark).sub(f"{mark} {value}", text)
    return text


def refresh_fingerprints(template_path: Path = DEFAULT_TEMPLATE) -> bool:
    """Recompute the fingerprints in template.yaml; True when the file changed."""
    original = template_path.read_text(encoding="utf-8")
    updated = with_fresh_fingerprints(original)
    if updated == original:
        return False
    template_path.write_text(updated, encoding="utf-8")
    return True


# ------------------------------------------------------------------ SAM transform (for checkov)


class _NoManagedPolicies:
    """The template names no managed policy, so the translator never needs IAM to look one up."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template_path: Path, output_path: Path) -> None:
    """Expand the SAM template into CloudFormation JSON, keeping each resource's Metadata.

    The Metadata carries the checkov skips and their reasons, so they follow the resources that
    SAM generates (the Lambda function from AWS::Serverless::Function, for one).
    """
    # Imported by name: samtranslator lives in the SAM CLI's environment, not in the dev one.
    sam_transform = importlib.import_module("samtranslator.translator.transform").transform

    # The translator asks boto3 for a Region to fill AWS::Region and AWS::Partition; no call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = parse_template(template_path.read_text(encoding="utf-8"))
    # As `sam package` would: local code folders become S3 locations (placeholders; nothing is read).
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://sam-artifacts-placeholder/{logical_id}.zip"
    expanded = sam_transform(template, {}, _NoManagedPolicies(), passthrough_metadata=True)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    output_path.write_text(json.dumps(expanded, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.template_schema", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prints = commands.add_parser("fingerprints", help="recompute the guardrail and agent fingerprints")
    prints.add_argument("--check", action="store_true", help="only report; exit 1 when they are stale")
    prints.add_argument("template", nargs="?", type=Path, default=DEFAULT_TEMPLATE)
    expand = commands.add_parser("transform", help="write the SAM-transformed template as JSON")
    expand.add_argument("output", type=Path)
    expand.add_argument("template", nargs="?", type=Path, default=DEFAULT_TEMPLATE)
    args = parser.parse_args(argv)

    try:
        if args.command == "transform":
            transform(args.template, args.output)
            print(f"wrote {args.output}")
            return 0
        text = args.template.read_text(encoding="utf-8")
        stale = {
            mark: (value, written)
            for mark, value in expected_fingerprints(parse_template(text)).items()
            if (written := written_fingerprints(text)[mark]) != value
        }
    except TemplateFormatError as error:
        print(f"{args.template}: {error}", file=sys.stderr)
        return 2
    if args.check:
        for mark, (value, written) in stale.items():
            print(f"{args.template}: {mark} is {written}, should be {value}", file=sys.stderr)
        if stale:
            print("run `make fingerprints` and commit the result", file=sys.stderr)
            return 1
        print(f"{args.template}: fingerprints are current")
        return 0
    refresh_fingerprints(args.template)
    print(f"{args.template}: " + ("fingerprints updated" if stale else "fingerprints already current"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
