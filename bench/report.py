"""Statistics and the table: each figure as a median, with its ratio against its reference and its goal."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def median(values: Iterable[float]) -> float:
    data = list(values)
    if not data:
        raise ValueError("no samples")
    return float(statistics.median(data))


def spread(values: Sequence[float]) -> tuple[float, float]:
    """The 10th and 90th percentiles (the middle 80 % of the samples)."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return deciles[0], deciles[-1]


@dataclass(frozen=True)
class Row:
    """One line of the table. `ratio` is ours / `against`; `met` is None for figures with no goal."""

    figure: str
    ours: str
    against: str
    ratio: float | None
    goal: str
    met: bool | None


def verdict(met: bool | None) -> str:
    return "—" if met is None else "yes" if met else "**no**"


def ratio_text(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}x"


def render(rows: Sequence[Row]) -> str:
    """A Markdown table (readable as plain text too)."""
    header = ("Figure", "Ours", "Against", "Ratio", "Goal", "Met")
    lines = [header, *((r.figure, r.ours, r.against, ratio_text(r.ratio), r.goal, verdict(r.met)) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def format_line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    out = [format_line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [format_line(line) for line in lines[1:]]
    return "\n".join(out)


def ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 100 else f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"
