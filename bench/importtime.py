"""`python -X importtime` output, read and summarised: where a cold start's import time goes.

The worker can write a phase line to stderr between the handler's import and its first call
(bench.worker.PHASE_FIRST_CALL), so the imports of a cold start split into those made by the import
itself and those the first call made (lazy imports), and two profiles can be compared package by
package: what ours imports beyond the reference is what remains of the cold start's gap.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

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


def split_at(text: str, marker: str) -> tuple[list[Import], list[Import]]:
    """The imports before the marker line and after it (all before when the marker is absent)."""
    head, found, tail = text.partition(marker)
    return parse_importtime(head), parse_importtime(tail) if found else []


def by_package(imports: Sequence[Import]) -> Counter[str]:
    """Own (self) import time in microseconds, by top-level package."""
    totals: Counter[str] = Counter()
    for item in imports:
        totals[item.name.split(".")[0]] += item.self_us
    return totals


def total_ms(imports: Sequence[Import]) -> float:
    return sum(i.self_us for i in imports) / 1000


def summary(imports: Sequence[Import], top: int) -> str:
    roots = sorted((i for i in imports if i.depth == 0), key=lambda i: i.cumulative_us, reverse=True)
    lines = [f"{total_ms(imports):.0f} ms in {len(imports)} imports", "", "top-level imports:"]
    lines += [f"  {i.cumulative_us / 1000:7.1f} ms  {i.name}" for i in roots[:top]]
    lines += ["", "own time by package:"]
    lines += [f"  {us / 1000:7.1f} ms  {name}" for name, us in by_package(imports).most_common(top)]
    return "\n".join(lines)


def beyond(ours: Sequence[Import], reference: Sequence[Import], top: int) -> list[tuple[str, float]]:
    """The packages whose own import time ours exceeds the reference's by most: (package, extra ms)."""
    extra = by_package(ours)
    extra.subtract(by_package(reference))
    return [(name, us / 1000) for name, us in extra.most_common(top) if us > 0]
