"""Logger and the audit line: created once, imported everywhere.

Tracing is Lambda's own (`Tracing: Active` in the template): the runtime records each invocation
and its initialisation in X-Ray without an SDK in the function. The X-Ray SDK for Python, which
Powertools' Tracer wraps, is in maintenance since 2026-02-25 (end of support 2027-02-25), and
importing it builds botocore clients in every process (about 0.4 s outside Lambda). Finer spans,
for MultiMail and AWS calls, are OpenTelemetry's job: docs/performance.md#tracing says how.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aws_lambda_powertools import Logger

logger = Logger()  # service name and level come from POWERTOOLS_* variables


@dataclass(slots=True)
class AuditRecord:
    """One structured line per action. Ids and counts only: no bodies, subjects or addresses."""

    action: str
    agent_id: str | None
    agent_alias: str | None
    session_id: str | None
    mailbox_id: str | None = None
    recipient_count: int | None = None
    upstream_status: int | None = None
    email_id: str | None = None

    def record_upstream(self, status: int) -> None:
        self.upstream_status = status

    def emit(self, status_code: int, duration_ms: float) -> None:
        logger.info(
            "email action",
            extra={"audit": {**asdict(self), "status_code": status_code, "duration_ms": round(duration_ms, 1)}},
        )
