"""Logger, tracer and the audit line: created once, imported everywhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aws_lambda_powertools import Logger, Tracer

logger = Logger()  # service name and level come from POWERTOOLS_* variables
# Only what this function calls: AWS through botocore, MultiMail through http.client (urllib3). The
# default, every library X-Ray knows, imports sqlite3 and a dozen patch modules on every cold start.
TRACED_MODULES = ("botocore", "httplib")
tracer = Tracer(patch_modules=TRACED_MODULES)


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
