"""The template as each AgentPath deploys it, so that cfn-lint can check each path's Regions.

    python -m tools.regions write DIR    # DIR/agentcore-gateway.json and DIR/agents-classic.json

cfn-lint checks that every resource type exists in a Region (rule E3006), but it ignores conditions:
the Bedrock agent, which only AgentPath=agents-classic deploys, would fail the gateway's Regions
(us-west-1, for one). So each path gets its own copy without the other path's resources, and
`make validate` lints each copy for the Regions that docs/deploy.md calls supported for that path
(GATEWAY_REGIONS and AGENTS_CLASSIC_REGIONS in mk/sam.mk).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.template_schema import DEFAULT_TEMPLATE, parse_template

# Each path, and the condition of the other path's resources that its copy leaves out.
PATHS = {"agentcore-gateway": "CreateAgent", "agents-classic": "CreateGateway"}


def requires(conditions: Mapping[str, Any], name: str, needed: str) -> bool:
    """Whether condition `name` can hold only when `needed` does (it is `needed`, or an And of it)."""
    if name == needed:
        return True
    definition = conditions.get(name)
    if not isinstance(definition, Mapping) or "Fn::And" not in definition:
        return False
    return any(
        isinstance(part, Mapping) and "Condition" in part and requires(conditions, part["Condition"], needed)
        for part in definition["Fn::And"]
    )


def path_template(template: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The template without the resources and outputs that only the other path deploys."""
    left_out = PATHS[path]
    conditions = template.get("Conditions", {})

    def kept(section: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: item
            for name, item in section.items()
            if "Condition" not in item or not requires(conditions, item["Condition"], left_out)
        }

    return {**template, "Resources": kept(template["Resources"]), "Outputs": kept(template.get("Outputs", {}))}


def write(directory: Path, template_path: Path = DEFAULT_TEMPLATE) -> list[Path]:
    template = parse_template(template_path.read_text(encoding="utf-8"))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for path in PATHS:
        target = directory / f"{path}.json"
        target.write_text(json.dumps(path_template(template, path), indent=1), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("write", help="write one template per AgentPath").add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    for written in write(args.directory):
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
