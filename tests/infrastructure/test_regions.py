"""The Regions docs/deploy.md calls supported: the same lists `make validate` lints, and true in
CloudFormation's per-Region resource schemas (as cfn-lint ships them)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint
import pytest

from tests.infrastructure.conftest import REPO_ROOT
from tools.regions import PATHS, path_template

PROVIDERS = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
SAM_MK = REPO_ROOT / "mk" / "sam.mk"
# The resources SAM generates for its own types (the function's version and alias: AutoPublishAlias).
SAM_GENERATES = {
    "AWS::Serverless::Function": ["AWS::Lambda::Function", "AWS::Lambda::Version", "AWS::Lambda::Alias"],
    "AWS::Serverless::LayerVersion": ["AWS::Lambda::LayerVersion"],
}
# The docs table's column for each path, and mk/sam.mk's list for it.
COLUMNS = {"agentcore-gateway": (1, "GATEWAY_REGIONS"), "agents-classic": (2, "AGENTS_CLASSIC_REGIONS")}


@cache
def region_types(region: str) -> frozenset[str]:
    return frozenset(json.loads((PROVIDERS / f"{region}.json").read_text(encoding="utf-8")))


def make_list(name: str) -> list[str]:
    text = SAM_MK.read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(rf"^{name} :=(.*)$", text, re.MULTILINE)
    assert found, f"mk/sam.mk defines no {name}"
    return found.group(1).split()


def docs_table() -> dict[str, list[str]]:
    """Region -> its row's cells, from the Regions table of docs/deploy.md."""
    rows = re.findall(
        r"^\| `([a-z]{2}(?:-[a-z]+)+-\d)` \|(.*)\|$", DEPLOY_DOC.read_text(encoding="utf-8"), re.MULTILINE
    )
    assert rows, "docs/deploy.md has no Regions table"
    return {region: [cell.strip() for cell in cells.split("|")] for region, cells in rows}


def resource_types(template: dict[str, Any]) -> set[str]:
    types: set[str] = set()
    for resource in template["Resources"].values():
        types.update(SAM_GENERATES.get(resource["Type"], [resource["Type"]]))
    return types


@pytest.mark.parametrize("path", PATHS)
def test_the_docs_table_and_make_validate_list_the_same_regions(path: str) -> None:
    # GIVEN the Regions table in docs/deploy.md and the list `make validate` lints
    column, name = COLUMNS[path]
    documented = {region for region, cells in docs_table().items() if cells[column - 1] == "yes"}
    listed = make_list(name)
    # THEN they name the same Regions, each once
    assert sorted(listed) == sorted(set(listed))
    assert documented == set(listed)


@pytest.mark.parametrize("path", PATHS)
def test_every_resource_of_a_path_exists_in_each_of_its_regions(template: dict[str, Any], path: str) -> None:
    # GIVEN what the path deploys (with every option on) and the Regions the docs call supported for it
    needed = resource_types(path_template(template, path))
    # THEN CloudFormation knows every one of those resource types in each of those Regions
    for region in make_list(COLUMNS[path][1]):
        missing = needed - region_types(region)
        assert not missing, f"{path} is documented as supported in {region}, which lacks {sorted(missing)}"


def test_each_reason_the_docs_give_for_leaving_a_region_out_is_true() -> None:
    # GIVEN the table's "no: no `AWS::...`" cells
    reasons = [
        (region, resource_type)
        for region, cells in docs_table().items()
        for cell in cells
        for resource_type in re.findall(r"^no: no `(AWS::[A-Za-z]+::[A-Za-z]+)`", cell)
    ]
    # THEN there are some, and each named resource type is indeed absent from that Region
    assert len(reasons) >= 5
    for region, resource_type in reasons:
        assert resource_type not in region_types(region), f"{resource_type} exists in {region} now: update the table"


@pytest.mark.parametrize("path", PATHS)
def test_each_path_template_leaves_out_only_the_other_paths_resources(template: dict[str, Any], path: str) -> None:
    # GIVEN the template as one path deploys it
    kept = path_template(template, path)["Resources"]
    left_out = set(template["Resources"]) - set(kept)
    # THEN the other path's resources are gone, the shared ones stay
    other = "CreateGateway" if path == "agents-classic" else "CreateAgent"
    assert left_out, "the other path has resources"
    assert {"EmailActionsFunction", "Guardrail", "IdempotencyTable"} <= set(kept)
    for name in left_out:
        condition = template["Resources"][name]["Condition"]
        assert condition == other or other in json.dumps(template["Conditions"][condition])
    if path == "agents-classic":
        assert {"GatewayUserPool", "Gateway", "GatewayInvokePolicy"} <= left_out
