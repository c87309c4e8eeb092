"""Where a cold start goes: `python -X importtime` on one cold send, summarised, by either door.

    python -m bench.profile [ours|ours-gateway|reference|ours-no-table|ours-restore|...] [--top N]

Runs one cold function process exactly as `make bench` does (same paths, same variables, same
stand-ins), with `-X importtime`, and prints the imports that cost the most: the top-level ones by
cumulative time, and each package's own (self) time, split into those the handler's import made and
those its first call made (lazy imports). `ours` comes in by Bedrock's `/send`, `ours-gateway` by the
AgentCore Gateway's `sendEmail`. For a plain cold start of ours, a reference process is profiled
too, and the packages that ours spends the most time on beyond it are listed: what remains of the gap.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.environment import Build, FunctionSite, TemplateFunction
from bench.importtime import beyond, parse_importtime, summary
from bench.run import BUILD_DIR, VARIANTS, Bench, cold_config
from bench.servers import AwsServer, multimail_standin
from devtools.multimail_standin import DEFAULT_AGENT_KEY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n", 1)[0])
    parser.add_argument("variant", nargs="?", default="ours", choices=sorted(VARIANTS))
    parser.add_argument("--top", type=int, default=15)
    settings = parser.parse_args(argv)
    variant = VARIANTS[settings.variant]
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch,
        AwsServer() as aws,
        multimail_standin() as standin,
    ):
        site = FunctionSite.prepare(Path(scratch), Build.find(BUILD_DIR))
        aws.create_local_environment(DEFAULT_AGENT_KEY)
        bench = Bench(site, aws, TemplateFunction.read(), Path(scratch), lambda message: None)
        endpoints = bench.endpoints(standin.base_url)
        if variant.restore:  # the restored copy's first call: import time then shows what it loads late
            outcome = bench.run_worker(cold_config(variant), variant, endpoints, interpreter_flags=("-X", "importtime"))
            result = outcome.result
            print(
                f"{variant.name}: after-restore hooks {result['after_restore_ms']:.0f} ms + first call "
                f"{result['first_call_ms']:.0f} ms (slowed by -X importtime itself)\n"
            )
            print(summary(parse_importtime(bench.last_stderr), settings.top))
            return 0
        profile = bench.profile_cold(variant, endpoints)
        reference = None if variant.reference else bench.profile_cold(VARIANTS["reference"], endpoints)
    result = profile.outcome.result
    print(
        f"{variant.name}: import {result['import_ms']:.0f} ms + first {variant.first_send} "
        f"{result['first_call_ms']:.0f} ms (slowed by -X importtime itself)\n"
    )
    print("== the handler's import ==")
    print(summary(profile.at_import, settings.top))
    print(f"\n== imports made by the first {variant.first_send} ==")
    print(summary(profile.in_first_call, settings.top))
    if reference is not None:
        ours_all = [*profile.at_import, *profile.in_first_call]
        reference_all = [*reference.at_import, *reference.in_first_call]
        print("\n== own import time beyond the reference's (what remains) ==")
        print("\n".join(f"  {extra:7.1f} ms  {name}" for name, extra in beyond(ours_all, reference_all, settings.top)))
        print(
            f"\nfirst call: ours {result['first_call_ms']:.0f} ms with {profile.outcome.secret_calls} Secrets Manager "
            f"and {profile.outcome.dynamodb_calls} DynamoDB calls; the reference "
            f"{reference.outcome.result['first_call_ms']:.0f} ms with {reference.outcome.secret_calls} and "
            f"{reference.outcome.dynamodb_calls}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
