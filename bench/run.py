"""`make bench`: the six figures a Lambda user pays for, measured in one run on loopback stand-ins.

    python -m bench.run [--samples N] [--runs N] [--calls N] [--update-docs]

The driver (this process) runs the stand-ins: MultiMail (devtools.multimail_standin), and Secrets
Manager and DynamoDB (moto's server, counting calls). Every function process is a fresh interpreter
running bench/worker.py that sees only the function's code, its layer and the runtime's packages
(bench/environment.py), so it imports exactly what it would import in Lambda. Cold starts come in by
both doors: Bedrock's `/send` and the AgentCore Gateway's `sendEmail`. A door whose cold start
misses its goal is profiled against the reference (`-X importtime`), and the notes say what remains.
See docs/performance.md for what each figure means and what was found.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.environment import (
    ROOT,
    Build,
    Endpoints,
    FunctionSite,
    TemplateFunction,
    function_environment,
    template_variables,
)
from bench.importtime import Import, beyond, split_at, total_ms
from bench.report import Row, median, ms, render, spread
from bench.servers import AwsServer, PageServer, multimail_standin
from bench.worker import PHASE_FIRST_CALL
from devtools import local_env
from devtools.mcp_server.invocation import gateway_custom
from devtools.multimail_standin import AGENT_MAILBOX_ID, DEFAULT_AGENT_KEY

WORKER = ROOT / "bench" / "worker.py"
CONTEXT_MODULE = ROOT / "devtools" / "lambda_context.py"
BUILD_DIR = ROOT / ".aws-sam" / "build"
DOCUMENTS = (ROOT / "docs" / "performance.md",)  # wherever a performance table carries the markers
SECRET_ID = local_env.SECRET_NAME  # the local environment's (devtools/local_env.py), as demo and tests use
TABLE = local_env.IDEMPOTENCY_TABLE
MARK = "@@N@@"  # replaced by the invocation's number: every send is a new email, not a replay
OURS = "email_actions.app:lambda_handler"
REFERENCE = "reference_handler:lambda_handler"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# The goals of issue 7, with issue 15's for the cold start: a plain one within 1.6x the reference's, a
# SnapStart restore plus its first /send within the reference's plain cold start.
COLD_GOAL_RATIO = 1.6
RESTORE_GOAL_RATIO = 1.0
SNAPSTART = {"hooks": "email_actions.snapstart", "adapter": "email_actions.multimail"}
WARM_GOAL_RATIO = 1.2
SECRET_CALLS_GOAL = 1
RSS_GOAL_MIB = 96
SIZE_GOAL_MB = 20
SHAPING_GOAL_MS = 5.0
ANSWER_GOAL_KB = 25


class BenchError(RuntimeError):
    pass


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text(encoding="utf-8"))
    return event


def send_event() -> dict[str, Any]:
    """events/send.json, its body numbered per invocation (a repeated identical send is answered from
    the idempotency record without calling MultiMail, which is not what a user's new email costs)."""
    event = load_event("send")
    for field in event["requestBody"]["content"]["application/json"]["properties"]:
        if field["name"] == "body":
            field["value"] += f" ({MARK})"
    return event


def gateway_send_event() -> dict[str, Any]:
    """The arguments of events/gateway_send.json's sendEmail (the event a gateway sends), numbered
    per invocation like send_event's."""
    fixture = load_event("gateway_send")
    arguments: dict[str, Any] = fixture["payload"]
    return {**arguments, "body": arguments["body"] + f" ({MARK})"}


def inbox_event(limit: int) -> dict[str, Any]:
    event = load_event("inbox")
    event["parameters"] = [p for p in event.get("parameters", []) if p["name"] != "limit"]
    event["parameters"].append({"name": "limit", "type": "integer", "value": str(limit)})
    return event


def floor_requests(base_url: str, api_key: str, send: dict[str, Any], inbox: dict[str, Any]) -> dict[str, Any]:
    """The bare requests our handler makes for `send` and `inbox`, as the floor makes them."""
    fields = {p["name"]: p["value"] for p in send["requestBody"]["content"]["application/json"]["properties"]}
    payload = {
        "to": json.loads(fields["to"]),
        "subject": fields["subject"],
        "markdown": fields["body"],
        "idempotency_key": "bedrock-" + MARK.ljust(48, "0"),  # as long as the handler's, and unique per call
    }
    limit = next(p["value"] for p in inbox["parameters"] if p["name"] == "limit")
    mailbox = f"{base_url}/v1/mailboxes/{AGENT_MAILBOX_ID}"
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    return {
        "send": {
            "method": "POST",
            "url": f"{mailbox}/send",
            "body": json.dumps(payload, ensure_ascii=False),
            "headers": {**headers, "Content-Type": "application/json"},
        },
        "inbox": {
            "method": "GET",
            "url": f"{mailbox}/emails?" + urllib.parse.urlencode({"limit": limit, "direction": "inbound"}),
            "headers": headers,
        },
    }


@dataclass
class Variant:
    """One function configuration to measure, and the door its first send comes in by."""

    name: str
    handler: str
    reference: bool
    task: Path | None = None  # another task root (a scratch copy with a change under test)
    without: tuple[str, ...] = ()  # template variables left out
    restore: bool = False  # a simulated SnapStart restore instead of a plain cold start
    gateway: bool = False  # the first send is the gateway's sendEmail, not Bedrock's /send

    @property
    def first_send(self) -> str:
        return "sendEmail" if self.gateway else "/send"

    @property
    def door(self) -> str:
        return "gateway" if self.gateway else "Bedrock"


VARIANTS = {
    "ours": Variant("ours", OURS, reference=False),
    "ours-gateway": Variant("ours, gateway door", OURS, reference=False, gateway=True),
    "ours-no-table": Variant("ours, no idempotency table", OURS, False, without=("IDEMPOTENCY_TABLE",)),
    "reference": Variant("reference", REFERENCE, reference=True),
    "ours-restore": Variant("ours, SnapStart restore", OURS, reference=False, restore=True),
    "ours-gateway-restore": Variant("ours, gateway door, SnapStart restore", OURS, False, restore=True, gateway=True),
}
# The cold starts a full run measures, in alternating samples; each door's against the reference's.
COLD_VARIANTS = ("ours", "ours-gateway", "reference", "ours-restore", "ours-gateway-restore", "ours-no-table")
DOORS = ("ours", "ours-gateway")  # plain cold starts with a 1.6x goal, one per door


def cold_config(variant: Variant, *, mark_phases: bool = False) -> dict[str, Any]:
    """What a worker needs for one cold start (or simulated restore) and its first send, by the variant's door."""
    config: dict[str, Any] = {"mode": "restore" if variant.restore else "cold", "mark_phases": mark_phases}
    if variant.gateway:  # the tool's arguments, and the client context that names the tool
        config["events"] = {"send": gateway_send_event()}
        config["gateway"] = gateway_custom("sendEmail")
    else:
        config["events"] = {"send": send_event()}
    if variant.restore:
        config["snapstart"] = SNAPSTART
    return config


@dataclass(frozen=True)
class ColdProfile:
    """One cold start under `-X importtime`: the imports made by the import and by the first call."""

    outcome: Outcome
    at_import: list[Import]
    in_first_call: list[Import]


@dataclass
class Outcome:
    """A worker's result, with what the driver saw from outside."""

    result: dict[str, Any]
    process_ms: float
    secret_calls: int
    dynamodb_calls: int
    log_bytes: int


@dataclass
class Bench:
    site: FunctionSite
    aws: AwsServer
    function: TemplateFunction
    scratch: Path
    progress: Callable[[str], None]
    runs: int = 0
    last_stderr: str = ""

    def run_worker(
        self,
        config: dict[str, Any],
        variant: Variant,
        endpoints: Endpoints,
        *,
        interpreter_flags: Sequence[str] = (),
        extra_path: Sequence[str] = (),
        path_prefix: Sequence[str] = (),
    ) -> Outcome:
        self.runs += 1
        folder = self.scratch / f"run-{self.runs:03d}"
        folder.mkdir()
        config_path, result_path, log_path = folder / "config.json", folder / "result.json", folder / "function.log"
        config_path.write_text(
            json.dumps(
                {
                    **config,
                    "handler": variant.handler,
                    "context_module": str(CONTEXT_MODULE),
                    "memory_mb": self.function.memory_mb,
                    "mark": MARK,
                    "run": self.runs,
                }
            )
        )
        variables, _ = template_variables(self.function, endpoints)
        for name in variant.without:
            variables.pop(name, None)
        environment = function_environment(
            self.site,
            endpoints,
            variables,
            reference=variant.reference,
            task=variant.task,
            memory_mb=self.function.memory_mb,
        )
        # A profiler's own packages go after the function's; a profiler that runs the worker as a
        # script replaces sys.path[0] with the script's folder, so it gets a sacrificial entry.
        environment["PYTHONPATH"] = os.pathsep.join([*path_prefix, environment["PYTHONPATH"], *extra_path])
        secrets_before, dynamodb_before = self.aws.calls("GetSecretValue"), self.aws.calls_matching("DynamoDB")
        with log_path.open("wb") as log:
            started = time.perf_counter()
            finished = subprocess.run(  # noqa: S603 - our own interpreter and script
                [sys.executable, "-S", "-P", *interpreter_flags, str(WORKER), str(config_path), str(result_path)],
                env=environment,
                stdout=log,
                stderr=subprocess.PIPE,
                timeout=300,
                check=False,
            )
            process_ms = (time.perf_counter() - started) * 1000
        self.last_stderr = finished.stderr.decode(errors="replace")
        if finished.returncode != 0 or not result_path.exists():
            tail = finished.stderr.decode(errors="replace")[-3000:]
            raise BenchError(f"the {variant.name} function process failed ({finished.returncode}):\n{tail}")
        return Outcome(
            result=json.loads(result_path.read_text()),
            process_ms=process_ms,
            secret_calls=self.aws.calls("GetSecretValue") - secrets_before,
            dynamodb_calls=self.aws.calls_matching("DynamoDB") - dynamodb_before,
            log_bytes=log_path.stat().st_size,
        )

    def endpoints(self, multimail_url: str) -> Endpoints:
        return Endpoints(multimail_url, self.aws.url, SECRET_ID, AGENT_MAILBOX_ID, TABLE)

    # -- figure 1 ------------------------------------------------------------------------------

    def cold_starts(self, samples: int, variants: Sequence[Variant]) -> dict[str, list[Outcome]]:
        outcomes: dict[str, list[Outcome]] = {v.name: [] for v in variants}
        with multimail_standin() as standin:
            endpoints = self.endpoints(standin.base_url)
            for index in range(samples):
                self.progress(f"cold start {index + 1}/{samples}")
                for variant in sample_order(variants, index):
                    outcome = self.run_worker(cold_config(variant), variant, endpoints)
                    if not 200 <= outcome.result["status"] < 300:
                        raise BenchError(
                            f"{variant.name}'s first {variant.first_send} answered {outcome.result['status']}"
                        )
                    if variant.restore:
                        check_restore(outcome)
                    outcomes[variant.name].append(outcome)
        return outcomes

    def profile_cold(self, variant: Variant, endpoints: Endpoints) -> ColdProfile:
        """One cold start of `variant` under `-X importtime`, its imports split at the first call."""
        outcome = self.run_worker(
            cold_config(variant, mark_phases=True), variant, endpoints, interpreter_flags=("-X", "importtime")
        )
        at_import, in_first_call = split_at(self.last_stderr, PHASE_FIRST_CALL)
        return ColdProfile(outcome, at_import, in_first_call)

    def what_remains(self, doors: Sequence[Variant]) -> dict[str, tuple[ColdProfile, ColdProfile]]:
        """Each door's cold start profiled beside the reference's (one process each), by door."""
        profiles: dict[str, tuple[ColdProfile, ColdProfile]] = {}
        with multimail_standin() as standin:
            endpoints = self.endpoints(standin.base_url)
            for door in doors:
                self.progress(f"profiling what remains of the cold start: {door.name}")
                reference = self.profile_cold(VARIANTS["reference"], endpoints)
                profiles[f"{door.door} {door.first_send}"] = (self.profile_cold(door, endpoints), reference)
        return profiles

    # -- figures 2, 3 and 4 --------------------------------------------------------------------

    def warm_runs(
        self, runs: int, calls: int, invocations: int, variants: Sequence[Variant]
    ) -> dict[str, list[Outcome]]:
        outcomes: dict[str, list[Outcome]] = {v.name: [] for v in variants}
        send, inbox = send_event(), load_event("inbox")
        for index in range(runs):
            for variant in variants:
                self.progress(f"warm run {index + 1}/{runs}: {variant.name}, {invocations} invocations")
                with multimail_standin() as standin:  # a fresh mailbox each time: the sends pile up
                    config = {
                        "mode": "warm",
                        "events": {"send": send, "inbox": inbox},
                        "floor": floor_requests(standin.base_url, standin.agent_key, send, inbox),
                        "warmup": 20,
                        "timed_calls": calls,
                        "invocations": invocations,
                    }
                    outcome = self.run_worker(config, variant, self.endpoints(standin.base_url))
                    if outcome.result["replayed"]:
                        raise BenchError(f"{variant.name}: {outcome.result['replayed']} sends were answered as repeats")
                    outcomes[variant.name].append(outcome)
        return outcomes

    # -- figure 6 ------------------------------------------------------------------------------

    def shaping(self, emails: int, repeats: int) -> Outcome:
        self.progress(f"shaping an inbox of {emails} emails")
        with multimail_standin(extra_inbox_messages=emails) as standin:
            page = fetch_inbox(standin.base_url, standin.agent_key, emails)
        page_file = self.scratch / "page.json"
        page_file.write_text(json.dumps(page))
        config = {
            "mode": "shape",
            "page_file": str(page_file),
            "mailbox_id": AGENT_MAILBOX_ID,
            "limits": [10, 50],
            "repeats": repeats,
            "events": {"inbox": inbox_event(50)},
        }
        with PageServer(page) as server:
            return self.run_worker(config, VARIANTS["ours"], self.endpoints(server.url))


def sample_order(variants: Sequence[Variant], index: int) -> list[Variant]:
    """The order of one round of cold starts: shuffled, seeded by the round's number (the same in every run).

    A rotation would give each variant each place equally, but always the same predecessor, and what
    ran just before (a fork, a heavier process) can tilt a process's time on a busy machine; a shuffle
    spreads both the places and the predecessors.
    """
    order = list(variants)
    random.Random(index).shuffle(order)  # noqa: S311 - an order of samples, not a secret
    return order


def check_restore(outcome: Outcome) -> None:
    """What the SnapStart hooks guarantee, seen in a simulated restore; a broken guarantee stops the bench."""
    result = outcome.result
    problems = []
    if result["hooks"] != ["before_snapshot", "after_restore"]:
        problems.append(f"the hooks ran as {result['hooks']}")
    if result["key_reads_at_snapshot"] != 0:
        problems.append(f"the key was read {result['key_reads_at_snapshot']} times before the snapshot")
    if not result["pool_renewed"]:
        problems.append("the restored copy kept the snapshot's MultiMail pool")
    if not result["random_differs"]:
        problems.append("the restored copy drew the same random numbers as the snapshot")
    if problems:
        raise BenchError("SnapStart restore: " + "; ".join(problems))


def fetch_inbox(base_url: str, api_key: str, count: int) -> dict[str, Any]:
    """`count` inbound emails from the stand-in, page by page (100 at most per page), as one page."""
    emails: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(emails) < count:
        query = {"limit": 100, "direction": "inbound", **({"cursor": cursor} if cursor else {})}
        url = f"{base_url}/v1/mailboxes/{AGENT_MAILBOX_ID}/emails?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the loopback stand-in
            page = json.load(answer)
        emails += page["emails"]
        cursor = page.get("cursor")
        if not cursor:
            break
    if len(emails) < count:
        raise BenchError(f"the stand-in returned {len(emails)} emails, not {count}")
    return {"emails": emails[:count], "cursor": cursor}


# -- figure 5 ----------------------------------------------------------------------------------


def tree_bytes(folder: Path) -> int:
    total = 0
    for directory, _, files in os.walk(folder):
        total += sum(os.lstat(os.path.join(directory, name)).st_size for name in files)
    return total


# -- the table ---------------------------------------------------------------------------------


def per_process_median(outcomes: Sequence[Outcome], key: str) -> float:
    """The median over processes of each process's median per-call time."""
    return median(median(o.result["times_ms"][key]) for o in outcomes)


def build_rows(
    cold: dict[str, list[Outcome]],
    warm: dict[str, list[Outcome]],
    shape: Outcome,
    build: Build,
) -> list[Row]:
    rows = cold_rows(cold)
    for action in ("send", "inbox"):
        ours = per_process_median(warm["ours"], action)
        floor = per_process_median(warm["ours"], f"floor_{action}")
        rows.append(
            Row(
                f"2. Warm /{action}, per call" + (" (exactly-once on)" if action == "send" else ""),
                ms(ours),
                f"{ms(floor)} (bare urllib3)",
                ours / floor,
                f"<= {WARM_GOAL_RATIO:.1f}x floor",
                ours / floor <= WARM_GOAL_RATIO,
            )
        )
    if warm.get(VARIANTS["ours-no-table"].name):
        outcomes = warm[VARIANTS["ours-no-table"].name]
        ours, floor = per_process_median(outcomes, "send"), per_process_median(outcomes, "floor_send")
        rows.append(
            Row(
                "2. Warm /send, no idempotency table",
                ms(ours),
                f"{ms(floor)} (bare urllib3)",
                ours / floor,
                "(for comparison)",
                None,
            )
        )
    for action in ("send", "inbox"):
        reference = per_process_median(warm["reference"], action)
        floor = per_process_median(warm["reference"], f"floor_{action}")
        rows.append(
            Row(
                f"2. Reference warm /{action}, per call",
                ms(reference),
                f"{ms(floor)} (bare urllib3)",
                reference / floor,
                "(for comparison)",
                None,
            )
        )
    ours_calls = median(per_thousand(o) for o in warm["ours"])
    reference_calls = median(per_thousand(o) for o in warm["reference"])
    rows.append(
        Row(
            "3. Secrets Manager calls per 1,000 invocations",
            f"{ours_calls:g}",
            f"{reference_calls:g} (reference)",
            ours_calls / reference_calls if reference_calls else None,
            f"<= {SECRET_CALLS_GOAL}",
            ours_calls <= SECRET_CALLS_GOAL,
        )
    )
    ours_rss = median(o.result["peak_rss_kb"] for o in warm["ours"]) / 1024
    reference_rss = median(o.result["peak_rss_kb"] for o in warm["reference"]) / 1024
    rows.append(
        Row(
            "4. Peak RSS after 1,000 invocations",
            f"{ours_rss:.1f} MiB",
            f"{reference_rss:.1f} MiB (reference)",
            ours_rss / reference_rss,
            f"< {RSS_GOAL_MIB} MiB",
            ours_rss < RSS_GOAL_MIB,
        )
    )
    if build.function is not None and build.layer is not None:
        function_mb, layer_mb = tree_bytes(build.function) / 1e6, tree_bytes(build.layer) / 1e6
        total = function_mb + layer_mb
        rows.append(
            Row(
                "5. Deployed size, unzipped (function + layer)",
                f"{total:.2f} MB",
                f"{function_mb:.2f} + {layer_mb:.2f} MB; goal",
                total / SIZE_GOAL_MB,
                f"< {SIZE_GOAL_MB} MB",
                total < SIZE_GOAL_MB,
            )
        )
    else:
        rows.append(
            Row("5. Deployed size, unzipped", "no sam build", "run `make build`", None, f"< {SIZE_GOAL_MB} MB", False)
        )
    shaping_ms = median(shape.result["shaping_ms"]["50"])
    rows.append(
        Row(
            "6. Shaping a 1,000-email inbox (limit 50)",
            ms(shaping_ms),
            f"{SHAPING_GOAL_MS:g} ms goal",
            shaping_ms / SHAPING_GOAL_MS,
            f"< {SHAPING_GOAL_MS:g} ms",
            shaping_ms < SHAPING_GOAL_MS,
        )
    )
    answer_kb = shape.result["response_bytes"] / 1000
    rows.append(
        Row(
            "6. Its answer, whole Lambda response",
            f"{answer_kb:.1f} KB",
            f"{ANSWER_GOAL_KB} KB goal",
            answer_kb / ANSWER_GOAL_KB,
            f"< {ANSWER_GOAL_KB} KB",
            answer_kb < ANSWER_GOAL_KB and 200 <= shape.result["status"] < 300,
        )
    )
    return rows


def cold_ratios(cold: dict[str, list[Outcome]]) -> dict[str, float]:
    """Each measured cold start's (or restore's) median over the reference's plain cold start, by variant key."""
    reference = median(o.result["cold_ms"] for o in cold[VARIANTS["reference"].name])
    return {
        key: median(o.result["cold_ms"] for o in cold[variant.name]) / reference
        for key, variant in VARIANTS.items()
        if not variant.reference and cold.get(variant.name) and variant.without == ()
    }


def cold_rows(cold: dict[str, list[Outcome]]) -> list[Row]:
    """Figure 1: each door's plain cold start, then each door's restore, against the reference's cold start."""
    reference = median(o.result["cold_ms"] for o in cold[VARIANTS["reference"].name])
    rows: list[Row] = []
    for restore in (False, True):
        for variant in VARIANTS.values():
            if variant.reference or variant.without or variant.restore != restore or not cold.get(variant.name):
                continue
            ours = median(o.result["cold_ms"] for o in cold[variant.name])
            door = variant.door
            goal = RESTORE_GOAL_RATIO if restore else COLD_GOAL_RATIO
            rows.append(
                Row(
                    f"1. SnapStart, {door}: after-restore hooks + first {variant.first_send}"
                    if restore
                    else f"1. Cold start, {door}: import + first {variant.first_send}",
                    ms(ours),
                    f"{ms(reference)} (reference{' cold' if restore else ''})",
                    ours / reference,
                    f"<= {goal:.1f}x reference",
                    ours / reference <= goal,
                )
            )
    return rows


def per_thousand(outcome: Outcome) -> float:
    return outcome.secret_calls * 1000 / int(outcome.result["invocations"])


def details(
    cold: dict[str, list[Outcome]],
    warm: dict[str, list[Outcome]],
    shape: Outcome,
    site: FunctionSite,
    settings: argparse.Namespace,
    remains: dict[str, tuple[ColdProfile, ColdProfile]] | None = None,
) -> list[str]:
    """The notes under the table: how each figure splits, what remains of a missed cold start, what else was seen."""
    lines: list[str] = []
    for name, outcomes in cold.items():
        if outcomes and outcomes[0].result.get("hooks"):
            lines.append(restore_details(name, outcomes))
            continue
        imports = median(o.result["import_ms"] for o in outcomes)
        first = median(o.result["first_call_ms"] for o in outcomes)
        low, high = spread([o.result["cold_ms"] for o in outcomes])
        process = median(o.process_ms for o in outcomes)
        modules = median(o.result["modules_loaded"] for o in outcomes)
        lines.append(
            f"cold, {name}: import {ms(imports)} + first call {ms(first)} (p10-p90 of the sum {ms(low)}-{ms(high)}); "
            f"whole process {ms(process)}; {modules:.0f} modules loaded"
        )
    lines += [remains_details(name, ours, reference) for name, (ours, reference) in (remains or {}).items()]
    for name, outcomes in warm.items():
        invocations = sum(o.result["invocations"] for o in outcomes)
        log = sum(o.log_bytes for o in outcomes) / invocations
        dynamodb = sum(o.dynamodb_calls for o in outcomes) * 1000 / invocations
        times = {key: per_process_median(outcomes, key) for key in ("send", "floor_send", "inbox", "floor_inbox")}
        p90 = median(spread(o.result["times_ms"]["send"])[1] for o in outcomes)
        lines.append(
            f"warm, {name}: /send {ms(times['send'])} ({times['send'] / times['floor_send']:.2f}x its floor, "
            f"p90 {ms(p90)}), /inbox {ms(times['inbox'])} ({times['inbox'] / times['floor_inbox']:.2f}x); "
            f"per 1,000 invocations {dynamodb:.0f} DynamoDB calls; per invocation {log:.0f} log bytes; "
            f"peak RSS {median(o.result['peak_rss_kb'] for o in outcomes) / 1024:.1f} MiB"
        )
    result = shape.result
    lines.append(
        f"shaping: {result['page_emails']} emails in, limit 10 → {ms(median(result['shaping_ms']['10']))}, "
        f"limit 50 → {ms(median(result['shaping_ms']['50']))} ({result['answer_counts']['50']} emails kept); "
        f"the handler's answer holds {result['emails_in_answer']} emails, body {result['body_bytes'] / 1000:.1f} KB"
    )
    lines.append(
        f"samples: {settings.samples} cold starts per variant; {settings.runs} warm processes per variant, each "
        f"{settings.calls} timed calls per action and {settings.invocations} invocations in all"
    )
    lines += [f"note: {note}" for note in site.notes]
    return lines


def remains_details(name: str, ours: ColdProfile, reference: ColdProfile, top: int = 6) -> str:
    """What remains of a door's cold start over the reference's, from one profiled process of each."""
    imports = [*ours.at_import, *ours.in_first_call]
    reference_imports = [*reference.at_import, *reference.in_first_call]
    extra = ", ".join(f"{package} +{extra_ms:.0f} ms" for package, extra_ms in beyond(imports, reference_imports, top))
    first, reference_first = ours.outcome.result["first_call_ms"], reference.outcome.result["first_call_ms"]
    return (
        f"what remains, {name} cold start (one process of it and one of the reference under -X importtime, "
        "which slows imports): imports "
        f"{total_ms(ours.at_import):.0f} ms at import + {total_ms(ours.in_first_call):.0f} ms in the first call, "
        f"against the reference's {total_ms(reference.at_import):.0f} + {total_ms(reference.in_first_call):.0f} ms; "
        f"own import time beyond the reference's: {extra or 'none'}; first call {ms(first)} with "
        f"{ours.outcome.secret_calls} Secrets Manager and {ours.outcome.dynamodb_calls} DynamoDB calls, against "
        f"{ms(reference_first)} with {reference.outcome.secret_calls} and {reference.outcome.dynamodb_calls}"
    )


def restore_details(name: str, outcomes: Sequence[Outcome]) -> str:
    hooks = median(o.result["after_restore_ms"] for o in outcomes)
    first = median(o.result["first_call_ms"] for o in outcomes)
    low, high = spread([o.result["cold_ms"] for o in outcomes])
    before = median(o.result["before_snapshot_ms"] for o in outcomes)
    late = sorted({module for o in outcomes for module in o.result["late_imports"]})
    return (
        f"restore, {name}: after-restore hooks {ms(hooks)} + first call {ms(first)} (p10-p90 of the sum "
        f"{ms(low)}-{ms(high)}); before-snapshot hooks {ms(before)}, paid once per published version; "
        f"modules first imported after the restore: {', '.join(late) or 'none'}; in every sample the hooks ran "
        "in order, no key was read before the snapshot, the pool was new and random was reseeded"
    )


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{model}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def update_docs(text: str) -> list[Path]:
    """Replace the block between the markers in every document that has them; the documents changed."""
    changed: list[Path] = []
    for document_path in DOCUMENTS:
        if not document_path.is_file():
            continue
        document = document_path.read_text(encoding="utf-8")
        if BEGIN not in document or END not in document:
            continue
        head, _, rest = document.partition(BEGIN)
        _, _, tail = rest.partition(END)
        document_path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
        changed.append(document_path)
    if not changed:
        raise BenchError(f"no document has a {BEGIN} … {END} block to replace")
    return changed


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=11, help="cold starts per variant (default 11)")
    parser.add_argument("--runs", type=int, default=3, help="warm processes per variant (default 3)")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per action in each warm process")
    parser.add_argument("--invocations", type=int, default=1000, help="invocations per warm process")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="write the table between the bench markers of docs/performance.md",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    build = Build.find(BUILD_DIR)

    def progress(message: str) -> None:
        print(f"  [{time.perf_counter() - started:5.1f} s] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch, AwsServer() as aws:
        site = FunctionSite.prepare(Path(scratch), build)
        aws.create_local_environment(DEFAULT_AGENT_KEY)
        bench = Bench(site, aws, TemplateFunction.read(), Path(scratch), progress)
        cold = bench.cold_starts(settings.samples, [VARIANTS[key] for key in COLD_VARIANTS])
        ratios = cold_ratios(cold)
        missed = [VARIANTS[key] for key in DOORS if ratios.get(key, 0.0) > COLD_GOAL_RATIO]
        remains = bench.what_remains(missed)
        warm = bench.warm_runs(
            settings.runs,
            settings.calls,
            settings.invocations,
            [VARIANTS["ours"], VARIANTS["reference"], VARIANTS["ours-no-table"]],
        )
        shape = bench.shaping(1000, repeats=200)
    rows = build_rows(cold, warm, shape, build)
    elapsed = time.perf_counter() - started
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            render(rows),
            "",
            f"Measured {stamp} on {machine()}, in {elapsed:.0f} s; load average (1 min) "
            f"{load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.",
            "",
            *(f"- {line}" for line in details(cold, warm, shape, site, settings, remains)),
        ]
    )
    print(text)
    if settings.update_docs:
        for path in update_docs(text):
            print(f"(the table is now in {path.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
