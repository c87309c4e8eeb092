"""Checks `make deploy` runs before it builds: a stack name whose derived names fit, a supported Region.

    python -m tools.deploy_preflight --stack-name NAME [--region REGION] [--agent-path PATH] \
        --gateway-regions "us-east-1 ..." --agents-classic-regions "us-east-1 ..."

CloudFormation allows stack names of 128 characters, but the stack derives names with tighter limits:
the guardrail `<stack>-guardrail` (at most 50 characters, so the stack name at most 40) and the gateway
`<stack>-mail` and agent `<stack>-email-agent` (no two hyphens in a row, none at the end). A name past
them fails minutes into a deploy, on one resource, with a message about that resource; this says why
first. The Region comes from --region, else from the AWS configuration (AWS_REGION, AWS_DEFAULT_REGION,
the profile), the same place `sam deploy` takes it from.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

SAMCONFIG = Path("samconfig.toml")
MAX_STACK_NAME = 40  # 50 (a guardrail's name) minus len("-guardrail")
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*")
DEFAULT_AGENT_PATH = "agentcore-gateway"


def stack_name_problems(name: str) -> list[str]:
    problems = []
    if len(name) > MAX_STACK_NAME:
        problems.append(
            f"the stack name {name!r} has {len(name)} characters; at most {MAX_STACK_NAME} fit, because the "
            f"guardrail is named <stack name>-guardrail and a guardrail name has at most 50"
        )
    if not STACK_NAME.fullmatch(name):
        problems.append(
            f"the stack name {name!r} must start with a letter and hold only letters, digits and single "
            "hyphens between them (the gateway and agent names derived from it allow no '--' and no "
            "hyphen at the end)"
        )
    return problems


def region_problems(region: str | None, agent_path: str, gateway: list[str], classic: list[str]) -> list[str]:
    if not region:
        return ["no AWS Region: pass REGION=<region> to make deploy, or set AWS_REGION (or the profile's region)"]
    needed = {
        "agentcore-gateway": [("the AgentCore Gateway", gateway)],
        "agents-classic": [("Agents Classic", classic)],
        "both": [("the AgentCore Gateway", gateway), ("Agents Classic", classic)],
    }[agent_path]
    return [
        f"AgentPath={agent_path} needs {what}, which docs/deploy.md does not list as supported in {region}: "
        f"choose one of {' '.join(regions)} (REGION=<region>)"
        for what, regions in needed
        if region not in regions
    ]


def agent_path_from_samconfig(path: Path = SAMCONFIG) -> str:
    """The AgentPath that `sam deploy` will use: samconfig.toml's override, else the template's default."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    overrides = config.get("default", {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    items = overrides.split() if isinstance(overrides, str) else overrides
    for item in items:
        name, _, value = item.partition("=")
        if name == "AgentPath":
            return value.strip('"')
    return DEFAULT_AGENT_PATH


def configured_region() -> str | None:
    """The Region boto3 (and so the SAM CLI) would use: environment first, then the profile."""
    import boto3

    region: str | None = boto3.session.Session().region_name
    return region


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", default="")
    parser.add_argument("--agent-path", default="", help="default: samconfig.toml's AgentPath override")
    parser.add_argument("--gateway-regions", required=True)
    parser.add_argument("--agents-classic-regions", required=True)
    args = parser.parse_args(argv)
    region = args.region or configured_region()
    agent_path = args.agent_path or agent_path_from_samconfig()
    problems = stack_name_problems(args.stack_name) + region_problems(
        region, agent_path, args.gateway_regions.split(), args.agents_classic_regions.split()
    )
    for problem in problems:
        print(f"make deploy: {problem}", file=sys.stderr)
    if not problems:
        print(f"==> deploying stack {args.stack_name} (AgentPath={agent_path}) to {region}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
