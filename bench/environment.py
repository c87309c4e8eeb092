"""The function process's world: its code, its layer, the runtime's packages and its environment variables.

Lambda puts the function (the task root) first on sys.path, then the layer (/opt/python), then the
runtime's own packages (boto3 and its dependencies). The benchmark rebuilds that order on this machine:

- task root: a copy of `sam build`'s function folder as it would be deployed, with the bytecode the
  build ships (functions/Makefile compiles it, since Lambda cannot write __pycache__ into /var/task);
  or of functions/ when there is no build, then without bytecode;
- layer: the layer's pinned closure, linked from the dev venv (the same versions; the built layer
  itself holds arm64 wheels, which cannot load on this machine). The driver checks that it holds
  the same top-level packages as the built layer;
- runtime: boto3, botocore and their dependencies, linked from the dev venv.

Nothing else of the venv is visible, so the function can only import what it would import in Lambda.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import FAKE_CREDENTIALS, REGION
from devtools import local_env

ROOT = Path(__file__).resolve().parent.parent
LAYER_REQUIREMENTS = ROOT / "layers" / "dependencies" / "requirements.txt"
# What the python3.13 runtime ships besides the standard library (boto3 and its closure).
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
PYC_TAG = "cpython-313"


@dataclass(frozen=True)
class Build:
    """What `sam build` left: the function's folder and the layer's folder, either may be missing."""

    function: Path | None
    layer: Path | None

    @classmethod
    def find(cls, build_dir: Path) -> Build:
        folders = sorted(p for p in build_dir.iterdir() if p.is_dir()) if build_dir.is_dir() else []
        function = next((p for p in folders if (p / "email_actions" / "app.py").is_file()), None)
        layer = next((p for p in folders if (p / "python").is_dir()), None)
        return cls(function, layer)


def pinned(requirements: Path = LAYER_REQUIREMENTS) -> dict[str, str]:
    """name -> version of every `name==version` line."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if "==" in text:
            name, _, version = text.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def top_level(distribution: str) -> set[str]:
    """The names a distribution puts at the top of site-packages (packages, modules, their bytecode)."""
    files = importlib.metadata.distribution(distribution).files or []
    names: set[str] = set()
    for file in files:
        first = file.parts[0]
        if first.endswith(".dist-info") or first in ("..", "bin") or first.endswith("-stubs"):
            continue
        names.add("/".join(file.parts[:2]) if first == "__pycache__" else first)
    return names


def link_distributions(target: Path, distributions: list[str] | tuple[str, ...]) -> list[str]:
    """Symlink each distribution's top-level files from the dev venv into `target`; the problems found."""
    target.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for name in distributions:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed in the dev venv")
            continue
        base = Path(str(distribution.locate_file("")))
        for entry in sorted(top_level(name)):
            if entry.startswith("__pycache__/") and PYC_TAG not in entry:
                continue
            link = target / entry
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(base / entry)
    return problems


def module_names(folder: Path) -> set[str]:
    """Importable top-level names in a site folder (no metadata, no bytecode, no scripts)."""
    names: set[str] = set()
    for entry in folder.iterdir():
        if entry.name.endswith((".dist-info", ".egg-info")) or entry.name in ("__pycache__", "bin"):
            continue
        if entry.name.endswith("-stubs"):
            continue
        names.add(entry.name.removesuffix(".py"))
    return names


@dataclass(frozen=True)
class FunctionSite:
    """Task roots, layer and runtime folders for the function processes, under one scratch folder."""

    scratch: Path
    ours: Path
    reference: Path
    layer: Path
    runtime: Path
    notes: tuple[str, ...]

    @classmethod
    def prepare(cls, scratch: Path, build: Build) -> FunctionSite:
        notes: list[str] = []
        ours = scratch / "task-ours"
        source = build.function or ROOT / "functions"
        # What the build ships, bytecode included; a copy of the sources carries none (a local run's
        # __pycache__ is this machine's, not the deployment's).
        shipped = None if build.function else shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(source, ours, ignore=shipped)
        if build.function is None:
            notes.append("no sam build found: the function's code was taken from functions/ (run `make build`)")
        reference = scratch / "task-reference"
        reference.mkdir()
        shutil.copy2(ROOT / "bench" / "reference_handler.py", reference / "reference_handler.py")
        layer = scratch / "layer"
        pins = pinned()
        notes += link_distributions(layer, list(pins))
        for name, version in pins.items():
            installed = importlib.metadata.version(name)
            if installed != version:
                notes.append(f"layer pins {name}=={version} but the dev venv has {installed}")
        runtime = scratch / "runtime"
        notes += link_distributions(runtime, [d for d in RUNTIME_DISTRIBUTIONS if d not in pins])
        if build.layer is not None:
            built, mirrored = module_names(build.layer / "python"), module_names(layer)
            if built != mirrored:
                notes.append(
                    f"the built layer and its mirror differ: only built {sorted(built - mirrored)}, "
                    f"only mirrored {sorted(mirrored - built)}"
                )
        return cls(scratch, ours, reference, layer, runtime, tuple(notes))

    def task_root(self, reference: bool) -> Path:
        return self.reference if reference else self.ours

    def pythonpath(self, task: Path) -> str:
        return os.pathsep.join(str(p) for p in (task, self.layer, self.runtime))


@dataclass(frozen=True)
class Endpoints:
    multimail_url: str
    aws_url: str  # moto's server: Secrets Manager and DynamoDB
    secret_id: str
    mailbox_id: str
    idempotency_table: str


@dataclass(frozen=True)
class TemplateFunction:
    """The function's variables in template.yaml (Globals included); None where the value is an intrinsic."""

    variables: dict[str, str | None]
    parameters: dict[str, Any]
    memory_mb: int

    @classmethod
    def read(cls, path: Path = ROOT / "template.yaml") -> TemplateFunction:
        from tools.template_schema import parse_template

        template = parse_template(path.read_text(encoding="utf-8"))
        globals_ = template.get("Globals", {}).get("Function", {})
        function = next(
            resource.get("Properties", {})
            for resource in template.get("Resources", {}).values()
            if resource.get("Type") == "AWS::Serverless::Function"
            and resource.get("Properties", {}).get("Handler") == "email_actions.app.lambda_handler"
        )
        variables: dict[str, str | None] = {}
        for source in (globals_, function):
            for name, value in source.get("Environment", {}).get("Variables", {}).items():
                variables[name] = value if isinstance(value, str) else None
        memory = function.get("MemorySize", globals_.get("MemorySize", 128))
        return cls(variables, template.get("Parameters", {}), int(memory))

    def parameter_default(self, value_name: str) -> str | None:
        default = self.parameters.get(value_name, {}).get("Default")
        return None if default is None else str(default)


# Parameters whose template default is what the benchmark uses.
PARAMETER_VARIABLES = {"POWERTOOLS_LOG_LEVEL": "LogLevel"}


def local_values(endpoints: Endpoints) -> dict[str, str]:
    """How the benchmark fills the template's per-deployment variables (!Ref, !If): as the local
    environment does (devtools.local_env), pointed at the benchmark's stand-ins."""
    variables = local_env.function_variables(
        endpoints.multimail_url,
        secret_id=endpoints.secret_id,
        mailbox_id=endpoints.mailbox_id,
        idempotency_table=endpoints.idempotency_table,
    )
    return {name: variables[name] for name in local_env.DEPLOYMENT_VARIABLES}


def template_variables(function: TemplateFunction, endpoints: Endpoints) -> tuple[dict[str, str], list[str]]:
    """The function's variables as deployed, pointed at the stand-ins; and the ones left unset."""
    values: dict[str, str] = {}
    unset: list[str] = []
    deployment = local_values(endpoints)
    for name, value in function.variables.items():
        if name in deployment:
            values[name] = deployment[name]
        elif value is not None:
            values[name] = value
        elif name in PARAMETER_VARIABLES and function.parameter_default(PARAMETER_VARIABLES[name]) is not None:
            values[name] = str(function.parameter_default(PARAMETER_VARIABLES[name]))
        else:
            unset.append(name)
    return values, unset


def function_environment(
    site: FunctionSite,
    endpoints: Endpoints,
    variables: dict[str, str],
    *,
    reference: bool,
    task: Path | None = None,
    memory_mb: int = 256,
) -> dict[str, str]:
    """What Lambda gives the function, plus template.yaml's `variables`, pointed at the loopback stand-ins.

    Tracing (`Tracing: Active`) is Lambda's own and happens outside the function process: all the
    function sees of it is a trace header per invocation (`_X_AMZN_TRACE_ID`, set by the worker),
    which Powertools' Logger copies into each log line.
    """
    task = task or site.task_root(reference)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": site.pythonpath(task),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda
        "PYTHONHASHSEED": "0",
        # Lambda's own variables
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": "email-actions-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/email-actions-bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "LAMBDA_TASK_ROOT": str(task),
        "_HANDLER": "reference_handler.lambda_handler" if reference else "email_actions.app.lambda_handler",
        **FAKE_CREDENTIALS,
        "AWS_SESSION_TOKEN": "benchmark",
        # no shared config or credentials files, no instance metadata: only what Lambda gives
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoints.aws_url,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoints.aws_url,
        # template.yaml's Globals and the function's own variables
        **variables,
    }
