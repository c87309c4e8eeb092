"""Shared fixtures of the infrastructure tests: the template, parsed once, as CloudFormation sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.template_schema import parse_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return parse_template(TEMPLATE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found
