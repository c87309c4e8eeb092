"""What the hardening suite tried and what went wrong, counted as it happens.

The tests add to `COUNTS` through small helpers; the hardening conftest writes the totals to
`build/hardening-counts.json` when the session ends, and `python -m tests.hardening.counts` prints
them as the Markdown table that the README shows.

- inputs: events given to `lambda_handler` (each hypothesis example, fixture mutation or fault run).
- faults: upstream faults that really happened: stand-in faults taken by a request, refused and
  timed-out connections, and failing Secrets Manager reads.
- crashes: an exception escaping `lambda_handler`, or a response that breaks the Bedrock contract.
- duplicates: emails created upstream beyond one per intended send or reply.
- leaks: the API key (or a secret value) found in an answer or in any test's captured output.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNTS_FILE = ROOT / "build" / "hardening-counts.json"


@dataclass
class Counts:
    inputs: int = 0
    faults: int = 0
    crashes: int = 0
    duplicates: int = 0
    leaks: int = 0
    intended_sends: int = 0
    tests_scanned: int = 0
    log_bytes_scanned: int = 0
    audit_lines_scanned: int = 0
    by_area: dict[str, int] = field(default_factory=dict)
    profile: str = "fast"

    def tried(self, area: str, n: int = 1) -> None:
        self.inputs += n
        self.by_area[area] = self.by_area.get(area, 0) + n

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


COUNTS = Counts()

_AREAS = {
    "bad_input": "Bad input (hypothesis from the schema, and fixture mutations)",
    "faults": "Upstream faults against the loopback stand-in",
    "secrets": "Secrets Manager faults",
    "injection": "Prompt injection",
}


def table(counts: Counts) -> str:
    """The README table: what was tried, and the three numbers that must be zero."""
    lines = [
        "| What | Count |",
        "|---|---:|",
        *(
            f"| Inputs tried: {label.lower() if i else label} | {counts.by_area.get(area, 0):,} |"
            for i, (area, label) in enumerate(_AREAS.items())
        ),
        f"| **Inputs tried, in all** | **{counts.inputs:,}** |",
        f"| Upstream and secret faults injected (each one really happened) | {counts.faults:,} |",
        f"| Intended sends and replies under faults | {counts.intended_sends:,} |",
        f"| Crashes (an exception escaped, or the response broke the Bedrock contract) | {counts.crashes} |",
        f"| Duplicates (more than one email created for one intended send) | {counts.duplicates} |",
        f"| Leaks (the key or a secret value in an answer or in any test's output) | {counts.leaks} |",
        f"| Tests whose captured output was scanned for the key (the whole suite) | {counts.tests_scanned:,} |",
        f"| Function audit log lines among the scanned output | {counts.audit_lines_scanned:,} |",
    ]
    return "\n".join(lines)


def load(path: Path = COUNTS_FILE) -> Counts:
    data = json.loads(path.read_text())
    return Counts(**data)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else COUNTS_FILE
    if not path.exists():
        print(f"{path} does not exist: run `make test` (or `make fuzz`) first.", file=sys.stderr)
        return 1
    counts = load(path)
    print(f"Hypothesis profile: {counts.profile}\n")
    print(table(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
