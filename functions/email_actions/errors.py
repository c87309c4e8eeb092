"""Domain errors. Each carries the status code the agent sees and a message written for a model.

`app.py` maps every one of them to a Bedrock response in a single exception handler, so the
rest of the code raises and never builds error responses itself.
"""

from __future__ import annotations


class EmailActionError(Exception):
    """Base class: something the agent should be told about, in words it can act on."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, object]:
        """Extra machine-readable fields for the answer."""
        return {}


class InvalidInputError(EmailActionError):
    """The agent's request is malformed; nothing was sent upstream."""

    status_code = 400
    code = "invalid_input"

    def __init__(self, message: str, *, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []

    def details(self) -> dict[str, object]:
        return {"fields": self.fields} if self.fields else {}


class ConfigurationError(EmailActionError):
    """The function is deployed without something it needs (an operator must fix it)."""

    code = "function_misconfigured"


class SecretUnavailableError(EmailActionError):
    """The MultiMail key could not be read from Secrets Manager. Names the secret, never its value."""

    code = "api_key_unavailable"


class DuplicateInProgressError(EmailActionError):
    """An identical send or reply is still running; a second POST would risk a duplicate."""

    status_code = 409
    code = "duplicate_in_progress"


class UpstreamError(EmailActionError):
    """MultiMail answered with an error, or did not answer usefully.

    `email_may_exist` is True when the request was a send or reply whose fate is unknown
    (a timeout after the request went out, a garbled success answer): the agent must then
    check the pending list instead of sending again.
    """

    status_code = 502
    code = "upstream_error"

    def __init__(self, message: str, *, upstream_status: int | None = None, email_may_exist: bool = False):
        super().__init__(message)
        self.upstream_status = upstream_status
        self.email_may_exist = email_may_exist

    def details(self) -> dict[str, object]:
        return {"upstream_status": self.upstream_status} if self.upstream_status else {}


class AuthenticationError(UpstreamError):
    status_code = 401
    code = "multimail_key_rejected"


class PermissionDeniedError(UpstreamError):
    status_code = 403
    code = "not_permitted"


class NotFoundError(UpstreamError):
    status_code = 404
    code = "not_found"


class ConflictError(UpstreamError):
    status_code = 409
    code = "conflict"


class RejectedByMultiMailError(UpstreamError):
    status_code = 422
    code = "rejected_by_multimail"


class RateLimitedError(UpstreamError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int | None) -> None:
        super().__init__(message, upstream_status=429)
        self.retry_after_seconds = retry_after_seconds

    def details(self) -> dict[str, object]:
        return {"retry_after_seconds": self.retry_after_seconds, "sent": False}


class UpstreamUnavailableError(UpstreamError):
    status_code = 502
    code = "multimail_unavailable"


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    code = "multimail_timeout"
