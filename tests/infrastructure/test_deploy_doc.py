"""docs/deploy.md leads from a new AWS account to an MCP client in at most ten steps, and every command
it gives exists: make targets and the variables they take, AWS CLI operations, stack outputs and
parameters. And `make deploy`'s first check refuses what the docs say it refuses."""

from __future__ import annotations

import re
import shlex
from typing import Any

import botocore.session
import pytest

from tests.infrastructure.conftest import REPO_ROOT
from tests.infrastructure.test_regions import DEPLOY_DOC, make_list
from tools.deploy_preflight import agent_path_from_samconfig, main, region_problems

STEPS_HEADING = "## From a new AWS account to an MCP client, in ten steps"
MAKEFILES = [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "mk").glob("*.mk"))]


def doc() -> str:
    return DEPLOY_DOC.read_text(encoding="utf-8")


def steps_section() -> str:
    text = doc()
    assert STEPS_HEADING in text
    return text.split(STEPS_HEADING, 1)[1].split("\n## ", 1)[0]


def code_lines(text: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def make_targets() -> set[str]:
    text = "\n".join(path.read_text(encoding="utf-8") for path in MAKEFILES)
    return set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):", text, re.MULTILINE))


def make_variables_used() -> set[str]:
    text = "\n".join(path.read_text(encoding="utf-8") for path in MAKEFILES)
    return set(re.findall(r"\$\(([A-Z_]+)\)", text))


def test_the_newcomer_path_has_at_most_ten_steps_each_with_its_command() -> None:
    section = steps_section()
    numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert 5 <= len(numbers) <= 10
    # AND the last step is the MCP client listing the tools
    assert "List the tools" in section.rsplit(f"{numbers[-1]}. **", 1)[1]


def test_every_make_command_in_the_deploy_doc_exists_with_its_variables() -> None:
    targets, variables = make_targets(), make_variables_used()
    commands = [shlex.split(line, comments=True) for line in code_lines(doc()) if line.startswith("make ")]
    # (a placeholder such as <FunctionName output> stands for one value)
    commands += [shlex.split(re.sub(r"<[^>]+>", "X", found)) for found in re.findall(r"`(make [^`]+)`", doc())]
    assert len(commands) >= 8
    for words in commands:
        for word in words[1:]:
            if "=" in word:
                name = word.split("=", 1)[0]
                assert name in variables, f"`{' '.join(words)}`: no make file uses {name}"
            elif not word.startswith("-") and word != "...":
                assert word in targets, f"`{' '.join(words)}`: no target {word}"


def test_every_aws_cli_command_in_the_deploy_doc_is_a_real_operation() -> None:
    session = botocore.session.get_session()
    calls = set()
    for line in code_lines(doc()) + re.findall(r"`(aws [^`]+)`", doc()):
        for found in re.finditer(r"\baws ([a-z0-9-]+) ([a-z0-9-]+)", line):
            calls.add(found.groups())
    calls = {(service, command) for service, command in calls if service != "configure"}
    assert ("cognito-idp", "describe-user-pool-client") in calls
    for service, command in sorted(calls):
        operation = "".join(part.capitalize() for part in command.split("-"))
        assert operation in session.get_service_model(service).operation_names, f"aws {service} {command}"


def test_every_output_and_parameter_the_deploy_doc_names_exists(template: dict[str, Any]) -> None:
    text = doc()
    outputs = set(re.findall(r"OutputKey=='(\w+)'", text)) | set(re.findall(r"\$\(out (\w+)\)", text))
    assert {"SecretArn", "GatewayInvokePolicyArn", "GatewayTokenUrl"} <= outputs
    assert outputs <= set(template["Outputs"])
    examples = re.findall(r'PARAMS="([^"]+)"', text)
    parameters = {name for found in examples for name in re.findall(r"(\w+)=", found)} - {"Name"}
    assert "CreateGatewayUserPool" in parameters
    assert parameters <= set(template["Parameters"])


# ------------------------------------------------------------------ make deploy-check (steps 3 and 4)


def regions_args(region: str, agent_path: str = "agentcore-gateway") -> list[str]:
    return [
        "--stack-name",
        "multimail-email-agent",
        "--region",
        region,
        "--agent-path",
        agent_path,
        "--gateway-regions",
        " ".join(make_list("GATEWAY_REGIONS")),
        "--agents-classic-regions",
        " ".join(make_list("AGENTS_CLASSIC_REGIONS")),
    ]


@pytest.mark.parametrize(
    ("region", "agent_path", "accepted"),
    [
        ("eu-west-1", "agentcore-gateway", True),
        ("us-west-1", "agentcore-gateway", True),
        ("us-west-1", "agents-classic", False),
        ("il-central-1", "agentcore-gateway", False),
        ("ap-southeast-7", "agentcore-gateway", False),
        ("eu-central-2", "agents-classic", True),
        ("eu-central-2", "both", False),
    ],
)
def test_the_deploy_check_accepts_only_the_documented_regions(
    region: str, agent_path: str, accepted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(regions_args(region, agent_path)) == (0 if accepted else 1)
    if not accepted:
        assert "docs/deploy.md does not list" in capsys.readouterr().err


def test_the_deploy_check_asks_for_a_region_when_none_is_configured() -> None:
    (problem,) = region_problems(None, "agentcore-gateway", ["us-east-1"], [])
    assert "REGION=" in problem


def test_the_deploy_check_reads_the_path_that_sam_deploy_will_use() -> None:
    assert agent_path_from_samconfig() == "agentcore-gateway"
