"""What the hardening suite tried and what went wrong, counted as it happens.

The tests add to `COUNTS` through small helpers; when a session has run the whole matrix, the
hardening conftest writes the totals to `build/hardening-counts-<profile>.json` (`fast` for
`make test`, `fuzz` for `make fuzz`; a partial run, `-k` or one file, writes nothing), and
`python -m tests.hardening.counts` (`make hardening-table`) prints the last fast and fuzz runs as
the table in docs/hardening.md.

- inputs: events given to `lambda_handler` (each hypothesis example, fixture mutation or fault run).
- faults: upstream faults that really happened: stand-in faults taken by a request, refused and
  timed-out connections, and failing Secrets Manager reads.
- crashes: an exception escaping `lambda_handler`, or a response that breaks the Bedrock contract.
- duplicates: emails created upstream beyond one per intended send or reply.
- leaks: the API key (or a secret value) found in an answer or in any test's captured output.
- oversize: answers whose serialized Lambda response (`json.dumps` of the whole dict, as Bedrock
  receives it) is over Bedrock's 25,000-byte limit. Checked by the harness on every run.
- stray_paths: requests that reached a MultiMail path other than the one the action should reach.
- wrongly_blocked: sends and replies that should have gone out, but did not.
- concurrent_failures: calls run at the same time in one process (both event shapes, mixed tools)
  whose answer was not their own correct one.
- gateway_echoes: gateway results that repeat a caller's over-long name, or a refusal over 1,000
  bytes (a refusal holds no third-party text, so only an echo could make it longer).
- deadline_overruns: calls answered only after their Lambda budget was over (Lambda would have
  killed them), among them calls whose Secrets Manager or DynamoDB stopped answering.

Every number in `MUST_BE_ZERO` must be 0: `failures` names the ones that are not, and the
hardening conftest fails the session when any is.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNTS_DIR = ROOT / "build"


@dataclass
class Counts:
    inputs: int = 0
    faults: int = 0
    crashes: int = 0
    duplicates: int = 0
    leaks: int = 0
    oversize: int = 0
    stray_paths: int = 0
    wrongly_blocked: int = 0
    concurrent_failures: int = 0
    gateway_echoes: int = 0
    deadline_overruns: int = 0
    intended_sends: int = 0
    tests_scanned: int = 0
    log_bytes_scanned: int = 0
    audit_lines_scanned: int = 0
    by_area: dict[str, int] = field(default_factory=dict)
    profile: str = "fast"

    def tried(self, area: str, n: int = 1) -> None:
        self.inputs += n
        self.by_area[area] = self.by_area.get(area, 0) + n

    def failures(self) -> dict[str, int]:
        """The must-be-zero numbers that are not zero."""
        return {name: getattr(self, name) for name in MUST_BE_ZERO if getattr(self, name)}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


COUNTS = Counts()

# Label of each number that must stay zero, as the table shows it.
MUST_BE_ZERO: dict[str, str] = {
    "crashes": "**Crashes** (an exception escaped, or the answer broke the Bedrock contract)",
    "duplicates": "**Duplicates** (more than one email for one intended send)",
    "leaks": "**Leaks** (the key or a secret value in an answer or in any test's output)",
    "oversize": "**Oversize answers** (the serialized Lambda response over 25,000 bytes)",
    "stray_paths": "**Stray paths** (a request reached a MultiMail path other than the action's)",
    "wrongly_blocked": "**Wrongly blocked** (a send or reply that should have gone out did not)",
    "concurrent_failures": "**Concurrent failures** (a call run alongside others got an answer not its own)",
    "gateway_echoes": "**Gateway echoes over the limit** (a caller's long name repeated, or a refusal over 1 KB)",
    "deadline_overruns": "**Deadline overruns** (an answer that came after the call's time was up)",
}

_AREAS = {
    "bad_input": "bad input (hypothesis, from the schema and from fixture mutations)",
    "faults": "upstream faults (against the loopback stand-in)",
    "secrets": "Secrets Manager faults",
    "injection": "prompt injection",
    "hostile_ids": "hostile ids on every path parameter (through the handler and the adapter alone)",
    "upstream_text": "upstream answers quoting the key, and odd upstream answers",
    "concurrency": "concurrent calls in one process (both event shapes, mixed tools)",
    "gateway_names": "gateway calls with hostile tool and argument names",
    "dead_aws": "Secrets Manager or DynamoDB accepting connections and never answering",
}


def table(runs: list[Counts]) -> str:
    """The table of docs/hardening.md, one column per run: what was tried, and the numbers that must be zero."""

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    def each(get: Callable[[Counts], int], bold: bool = False) -> list[str]:
        return [f"**{get(c):,}**" if bold else f"{get(c):,}" for c in runs]

    lines = [
        row("What", [f"`make {'fuzz' if c.profile == 'fuzz' else 'test'}` ({c.profile} profile)" for c in runs]),
        "|---|" + "---:|" * len(runs),
        *(
            row(f"Inputs tried: {label}", [f"{c.by_area.get(area, 0):,}" for c in runs])
            for area, label in _AREAS.items()
        ),
        row("**Inputs tried, in all**", each(lambda c: c.inputs, bold=True)),
        row("Upstream and secret faults injected (each one really happened)", each(lambda c: c.faults)),
        row("Intended sends and replies under faults", each(lambda c: c.intended_sends)),
        *(row(label, [f"{getattr(c, name):,}" for c in runs]) for name, label in MUST_BE_ZERO.items()),
        row("Tests whose captured output was scanned for the key", each(lambda c: c.tests_scanned)),
        row("Function audit log lines among the scanned output", each(lambda c: c.audit_lines_scanned)),
    ]
    return "\n".join(lines)


def load(path: Path) -> Counts:
    known = {f.name for f in fields(Counts)}  # counts files written before a number existed still load
    return Counts(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


def main(argv: list[str]) -> int:
    """Print the table of the given counts files, or of the last fast and fuzz runs found in build/."""
    paths = [Path(a) for a in argv] or [p for p in (counts_file("fast"), counts_file("fuzz")) if p.exists()]
    if not paths:
        print(f"No counts in {COUNTS_DIR}: run `make test` (or `make fuzz`) first.", file=sys.stderr)
        return 1
    print(table([load(path) for path in paths]))
    return 0


def counts_file(profile: str) -> Path:
    """Where the last whole run of this hypothesis profile keeps its counts, so the table can show both."""
    return COUNTS_DIR / f"hardening-counts-{profile}.json"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
