"""Where a cold start goes: `python -X importtime` on one cold /send, summarised.

    python -m bench.profile [ours|reference|ours-no-table] [--top N]

Runs one cold function process exactly as `make bench` does (same paths, same variables, same
stand-ins), with `-X importtime`, and prints the imports that cost the most: the top-level ones by
cumulative time, and each package's own (self) time. Imports made during the first call are
included, which is where lazy imports show up.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.environment import Build, FunctionSite, TemplateFunction
from bench.run import BUILD_DIR, SNAPSTART, VARIANTS, Bench, send_event
from bench.servers import AwsServer, XRaySink, multimail_standin
from devtools.multimail_standin import DEFAULT_AGENT_KEY

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass(frozen=True)
class Import:
    self_us: int
    cumulative_us: int
    depth: int
    name: str


def parse_importtime(text: str) -> list[Import]:
    """The `-X importtime` lines of `text` (stderr), in the order Python printed them."""
    found: list[Import] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            found.append(Import(int(match[1]), int(match[2]), len(match[3]) // 2, match[4]))
    return found


def summary(imports: Sequence[Import], top: int) -> str:
    by_package: Counter[str] = Counter()
    for item in imports:
        by_package[item.name.split(".")[0]] += item.self_us
    roots = sorted((i for i in imports if i.depth == 0), key=lambda i: i.cumulative_us, reverse=True)
    lines = [f"{sum(i.self_us for i in imports) / 1000:.0f} ms in {len(imports)} imports", "", "top-level imports:"]
    lines += [f"  {i.cumulative_us / 1000:7.1f} ms  {i.name}" for i in roots[:top]]
    lines += ["", "own time by package:"]
    lines += [f"  {us / 1000:7.1f} ms  {name}" for name, us in by_package.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n", 1)[0])
    parser.add_argument("variant", nargs="?", default="ours", choices=sorted(VARIANTS))
    parser.add_argument("--top", type=int, default=15)
    settings = parser.parse_args(argv)
    variant = VARIANTS[settings.variant]
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch,
        AwsServer() as aws,
        XRaySink() as xray,
        multimail_standin() as standin,
    ):
        site = FunctionSite.prepare(Path(scratch), Build.find(BUILD_DIR))
        aws.create_local_environment(DEFAULT_AGENT_KEY)
        bench = Bench(site, aws, xray, TemplateFunction.read(), Path(scratch), lambda message: None)
        config = {"mode": "cold", "events": {"send": send_event()}}
        if variant.restore:  # profile the restored copy's first call: import time then shows what it loads late
            config = {**config, "mode": "restore", "snapstart": SNAPSTART}
        outcome = bench.run_worker(
            config,
            variant,
            bench.endpoints(standin.base_url),
            interpreter_flags=("-X", "importtime"),
        )
    result = outcome.result
    start = (
        f"after-restore hooks {result['after_restore_ms']:.0f}"
        if variant.restore
        else f"import {result['import_ms']:.0f}"
    )
    print(
        f"{variant.name}: {start} ms + first call {result['first_call_ms']:.0f} ms (slowed by -X importtime itself)\n"
    )
    print(summary(parse_importtime(bench.last_stderr), settings.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
