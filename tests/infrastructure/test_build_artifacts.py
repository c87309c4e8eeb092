"""What `sam build` produced, checked before anything is deployed: run by `make build-check`.

These tests read .aws-sam/build, so they run only when SAM_BUILD_DIR names a fresh build (the make
target sets it right after `sam build`); a plain `pytest` run skips them rather than judge a stale
build.

The layer holds arm64 code and this machine may be x86_64, so the import test cannot load the
layer as it is. It builds an overlay instead: every package of the layer as built, except the
native extension (pydantic_core), which comes from the dev environment at the same pinned version
for this machine's CPU; plus the packages the Lambda runtime itself provides (boto3, botocore and
their dependencies) from the dev environment. A Python 3.13 started without site-packages then
imports the handler from the built function folder, and every module it loaded must come from the
built function, the layer, the runtime's packages or the standard library: anything missing from
the layer fails the test instead of being found elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.infrastructure.conftest import REPO_ROOT

BUILD_DIR = os.environ.get("SAM_BUILD_DIR")
pytestmark = pytest.mark.skipif(
    not BUILD_DIR,
    reason="needs a fresh `sam build`: `make test` builds and runs these next (`make build-check` alone does too)",
)

FUNCTION = "EmailActionsFunction"
LAYER = "DependenciesLayer"
REQUIREMENTS = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
# What the python3.13 Lambda runtime ships, so the layer leaves it out (see requirements.txt).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "six.py")
NATIVE = ("pydantic_core",)
EM_AARCH64 = 183
EM_X86_64 = 62
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024

IMPORT_SCRIPT = r"""
import json, os, sys, sysconfig
function_dir, overlay, allowed = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [function_dir, overlay]
import email_actions.app as app
events = json.loads(sys.argv[4])

class Context:
    function_name = "email-actions"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:email-actions"
    log_group_name = "/aws/lambda/email-actions"
    log_stream_name = "build-check"
    function_version = "$LATEST"
    def get_remaining_time_in_millis(self):
        return 30000

answers = [app.lambda_handler(event, Context()) for event in events]
roots = [os.path.realpath(p) for p in allowed + [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]]]
strays = sorted(
    f"{name}: {os.path.realpath(module.__file__)}"
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not any(
        os.path.realpath(module.__file__) == root or os.path.realpath(module.__file__).startswith(root + os.sep)
        for root in roots
    )
)
print(json.dumps({"answers": answers, "strays": strays}))
"""


def build_dir() -> Path:
    assert BUILD_DIR is not None
    return REPO_ROOT / BUILD_DIR


def pins() -> dict[str, str]:
    found = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "_", name).lower()] = version
    return found


def installed(site: Path) -> dict[str, str]:
    found = {}
    for dist_info in site.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        found[re.sub(r"[-_.]+", "_", name).lower()] = version
    return found


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def test_the_function_artifact_holds_only_our_package() -> None:
    # GIVEN the built function
    function = build_dir() / FUNCTION
    # WHEN its top level is listed
    entries = sorted(p.name for p in function.iterdir() if p.name != "__pycache__")
    # THEN it is our package and nothing else: the dependencies are in the layer
    assert entries == ["email_actions"]
    assert (function / "email_actions" / "app.py").is_file()
    assert not list(function.rglob("*.dist-info")), "a dependency was built into the function"
    # AND every module comes with the runtime's bytecode, so a cold start compiles nothing
    modules = sorted(p.stem for p in (function / "email_actions").glob("*.py"))
    compiled = sorted(
        p.name.split(".")[0] for p in (function / "email_actions" / "__pycache__").glob("*.cpython-313.pyc")
    )
    assert compiled == modules


def test_the_layer_holds_exactly_the_pinned_arm64_dependencies() -> None:
    # GIVEN the built layer
    site = build_dir() / LAYER / "python"
    # WHEN its installed distributions and native libraries are read
    versions = installed(site)
    natives = list(site.rglob("*.so"))
    # THEN it holds every pin at its version, and nothing the runtime already ships
    assert versions == pins()
    for provided in ("boto3", "botocore", "s3transfer"):
        assert provided not in versions, f"{provided} is in the layer but the runtime ships it"
    # AND its native code is built for arm64 Linux and CPython 3.13
    assert (site / "aws_lambda_powertools").is_dir()
    assert (site / "pydantic_core" / "_pydantic_core.cpython-313-aarch64-linux-gnu.so").is_file()
    assert natives, "pydantic_core's extension is missing"
    for library in natives:
        assert elf_machine(library) == EM_AARCH64, f"{library} is not arm64"
    # AND the function and the layer fit Lambda's unzipped size limit together
    total = sum(p.stat().st_size for d in (site.parent, build_dir() / FUNCTION) for p in d.rglob("*") if p.is_file())
    assert total < LAMBDA_UNZIPPED_LIMIT


def test_the_built_function_imports_and_answers_from_the_built_layer(tmp_path: Path) -> None:
    runtime_python = os.environ.get("RUNTIME_PYTHON", "")
    if not runtime_python:
        pytest.fail("RUNTIME_PYTHON is not set: `make build-check` passes the python3.13 it builds with")
    if sys.version_info[:2] != (3, 13):
        pytest.skip("the dev environment is not Python 3.13, so its pydantic_core cannot stand in for the layer's")
    # GIVEN an overlay of the layer, with this machine's build of the native extension at the same version
    layer_site = build_dir() / LAYER / "python"
    dev_site = Path(sysconfig.get_paths()["purelib"])
    assert installed(dev_site)["pydantic_core"] == installed(layer_site)["pydantic_core"]
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    for entry in layer_site.iterdir():
        if entry.name not in NATIVE:
            (overlay / entry.name).symlink_to(entry)
    for entry in (*NATIVE, *RUNTIME_PROVIDED):
        (overlay / entry).symlink_to(dev_site / entry)
    allowed = [str(build_dir() / FUNCTION), str(layer_site)] + [str(dev_site / e) for e in (*NATIVE, *RUNTIME_PROVIDED)]
    unknown_path = json.loads((REPO_ROOT / "events" / "bad_unknown_path.json").read_text(encoding="utf-8"))
    # a send whose address only email-validator refuses: the layer must hold what the address check imports
    # (and nothing it leaves out, such as dnspython, may be needed)
    send = json.loads((REPO_ROOT / "events" / "send.json").read_text(encoding="utf-8"))
    send["requestBody"]["content"]["application/json"]["properties"][0]["value"] = '["ana..b@example.com"]'
    events = json.dumps([unknown_path, send])
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "email-actions",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
        "MULTIMAIL_API_URL": "https://api.multimail.dev",
        "MULTIMAIL_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:multimail-AbCdEf",
    }
    # WHEN a Python 3.13 without site-packages imports the built handler and answers two requests
    # that need no MultiMail call (an unknown path, and a send refused for its address)
    arguments = [str(build_dir() / FUNCTION), str(overlay), json.dumps(allowed), events]
    run = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [runtime_python, "-I", "-S", "-c", IMPORT_SCRIPT, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    # THEN it imports cleanly, answers in Bedrock's shape, and used nothing from outside the artifacts
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["strays"] == [], "modules loaded from outside the built artifacts"
    answer, refused = result["answers"]
    assert answer["messageVersion"] == "1.0"
    assert answer["response"]["apiPath"] == "/forward"
    assert isinstance(answer["response"]["httpStatusCode"], int)
    assert refused["response"]["httpStatusCode"] == 400
    refusal = json.loads(refused["response"]["responseBody"]["application/json"]["body"])
    assert refusal["error"] == "invalid_input"
    assert refusal["fields"] == ["to"]
