"""The suite-wide key-leak scan.

`tests/conftest.py` calls `scan_report` for every phase of every test in the suite. It searches the
output pytest captured in that phase (stdout, stderr and log records; the function's Powertools
logs go to stdout), and any log buffer a test redirected the function's logs into, for every secret
value the suite knows: the stand-in's agent key of the test, old keys from rotations, and values
that tests register with `watch`. A hit fails the test and counts as a leak. The scan needs
pytest's output capture, which is on unless `-s` is given.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pytest

from tests.hardening.counts import COUNTS, Counts

MIN_SECRET_CHARS = 8  # shorter values would match by chance; no real key is that short
AUDIT_LINE = '"message":"email action"'  # one per handler invocation (observability.AuditRecord)

_WATCHED: set[str] = set()


def watch(*values: str) -> None:
    """Treat these strings as secrets for the rest of the session."""
    _WATCHED.update(v for v in values if len(v) >= MIN_SECRET_CHARS)


def secrets_in(text: str, extra: Iterable[str] = ()) -> list[str]:
    """The watched secret values (and `extra`) that occur in `text`."""
    candidates = _WATCHED | {v for v in extra if len(v) >= MIN_SECRET_CHARS}
    return sorted(value for value in candidates if value in text)


def scan_report(item: pytest.Item, report: pytest.TestReport, counts: Counts = COUNTS) -> None:
    """Fail `report` if this phase's captured output holds a secret; count what was scanned."""
    standin = getattr(item, "funcargs", {}).get("standin")
    agent_key = getattr(standin, "agent_key", None)
    if isinstance(agent_key, str):
        watch(agent_key)
    suffix = f" {report.when}"
    outputs = [(name, content) for name, content in report.sections if name.endswith(suffix)]  # this phase's
    if report.when == "call":  # logs a test redirected into a buffer (the `log_output` fixture) bypass capture
        funcargs = getattr(item, "funcargs", {})
        outputs += [(f"fixture {n}", v.getvalue()) for n, v in funcargs.items() if isinstance(v, io.StringIO)]
    found: list[str] = []
    for name, content in outputs:
        counts.log_bytes_scanned += len(content.encode())
        counts.audit_lines_scanned += content.count(AUDIT_LINE)
        found += [f"{name} holds a secret value ({len(value)} characters)" for value in secrets_in(content)]
    if report.when == "call":
        counts.tests_scanned += 1
    if found:
        counts.leaks += len(found)
        report.outcome = "failed"
        report.longrepr = "Key-leak scan: " + "; ".join(found) + ". The value itself is not repeated here."
