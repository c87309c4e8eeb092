"""The one adapter that talks to MultiMail: connection pool, time budget, retries, the API key,
and the translation of HTTP outcomes into domain errors. Nothing above it sees HTTP.

Retry policy, chosen so that an email is never sent twice:
- GET is retried on connection faults, timeouts, 5xx and fitting 429s, while time remains.
- POST is retried only when the request cannot have been processed: the connection was never
  made, MultiMail answered 401 (the key is refreshed once), or 429 with a Retry-After that fits.
  A POST that timed out or got a 5xx is reported, with the advice to check the pending list.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from email_actions import aws_clients
from email_actions.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RejectedByMultiMailError,
    SecretUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

SECRET_MAX_AGE_SECONDS = 300  # a rotated key is picked up within five minutes, or at once on a 401
MIN_FORCED_REFRESH_INTERVAL = 60.0  # a revoked key must not turn every call into a Secrets Manager call
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 3
_USER_AGENT = "multimail-bedrock-agent/0.1"
_AWS_ERROR_CODE = re.compile(r"An error occurred \((\w+)\)")


def _new_pool() -> urllib3.PoolManager:
    # Retries and redirects are ours.
    return urllib3.PoolManager(num_pools=2, maxsize=4, retries=False, block=False)


# Module level, so warm invocations reuse open TLS connections; replaced after a SnapStart restore.
_POOL = _new_pool()


def connection_pool() -> urllib3.PoolManager:
    """The pool every MultiMailClient uses unless it is given one."""
    return _POOL


def renew_connection_pool() -> None:
    """Close every pooled connection and start a new, empty pool (after a SnapStart restore)."""
    global _POOL
    old, _POOL = _POOL, _new_pool()
    old.clear()


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment by which an upstream call must be over, so the function can still answer."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def in_seconds(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(at=clock() + max(seconds, 0.0), clock=clock)

    def remaining(self) -> float:
        return max(self.at - self.clock(), 0.0)


class ApiKeyProvider:
    """Reads the MultiMail key from Secrets Manager through Powertools' cached parameters.

    The secret string is the bare key, or JSON with an `api_key` field. The key is never logged
    and never placed in an error: errors name the secret, not its value.
    """

    def __init__(
        self,
        secret_id: str,
        *,
        fetch: Callable[[str, bool], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._fetch = fetch or _fetch_secret
        self._clock = clock
        self._last_forced_refresh: float | None = None

    def get(self) -> str:
        return self._parse(self._read(force=False))

    def refresh_after_rejection(self, rejected_key: str) -> str | None:
        """A fresh key after MultiMail refused `rejected_key`, or None if there is no newer one."""
        now = self._clock()
        if self._last_forced_refresh is not None and now - self._last_forced_refresh < MIN_FORCED_REFRESH_INTERVAL:
            current = self.get()  # someone refreshed recently; don't ask Secrets Manager again
            return current if current != rejected_key else None
        self._last_forced_refresh = now
        fresh = self._parse(self._read(force=True))
        return fresh if fresh != rejected_key else None

    def _read(self, *, force: bool) -> str:
        try:
            return self._fetch(self.secret_id, force)
        except GetParameterError as error:
            raise SecretUnavailableError(_describe_secret_failure(self.secret_id, error)) from None

    def _parse(self, raw: str) -> str:
        text = raw.strip()
        key: object = text
        if text.startswith(("{", "[", '"')):  # JSON, but only an object with api_key holds a key
            try:
                key = json.loads(text).get("api_key")
            except (json.JSONDecodeError, AttributeError):
                key = None
        if not isinstance(key, str) or not key.strip() or any(c.isspace() for c in key.strip()):
            raise SecretUnavailableError(
                f"The secret {self.secret_id} does not hold a usable MultiMail API key. It must be the bare key "
                'or JSON like {"api_key": "mm_live_..."}. An operator must put the key in; the request was not sent.'
            )
        return key.strip()


_key_reads = 0  # how many times the function asked for the key (the SnapStart checks read it)


def key_reads() -> int:
    return _key_reads


def forget_secrets() -> None:
    """Drop Powertools' secrets provider: its cached values, its client and the client's connections."""
    provider = DEFAULT_PROVIDERS.pop("secrets", None)
    if provider is not None:
        provider.clear_cache()


def _fetch_secret(secret_id: str, force: bool) -> str:
    global _key_reads
    _key_reads += 1
    if "secrets" not in DEFAULT_PROVIDERS:  # Powertools' cached provider, its client from the shared session
        DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=aws_clients.client("secretsmanager"))
    value = parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _describe_secret_failure(secret_id: str, error: Exception) -> str:
    # Powertools wraps botocore's ClientError in its message ("An error occurred (Code) when ..."),
    # which names the secret but never holds its value.
    found = _AWS_ERROR_CODE.search(str(error))
    code = found.group(1) if found else type(error).__name__
    advice = {
        "ResourceNotFoundException": "it does not exist or has no value yet; put the key in with "
        "`aws secretsmanager put-secret-value`",
        "AccessDeniedException": "the function's role may not read it",
        "403": "the function's role may not read it",  # how botocore reads a denial without an error code
        "DecryptionFailure": "its KMS key cannot be used by the function",
    }.get(code, "Secrets Manager refused the request")
    return (
        f"The MultiMail API key could not be read from secret {secret_id} ({code}: {advice}). "
        "An operator must fix this; the request was not sent."
    )


class MultiMailClient:
    """Calls the MultiMail REST API within a deadline. One instance per invocation, one shared pool."""

    def __init__(
        self,
        base_url: str,
        keys: ApiKeyProvider,
        deadline: Deadline,
        *,
        pool: urllib3.PoolManager | None = None,
        on_status: Callable[[int], None] | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._keys = keys
        self._deadline = deadline
        self._pool = pool if pool is not None else connection_pool()
        self._on_status = on_status or (lambda status: None)

    # -- the endpoints this function uses -----------------------------------------------------

    def send(self, mailbox_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/v1/mailboxes/{_seg(mailbox_id)}/send", body=payload)

    def reply(self, mailbox_id: str, email_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/v1/mailboxes/{_seg(mailbox_id)}/reply/{_seg(email_id)}", body=payload)

    def list_emails(self, mailbox_id: str, query: Mapping[str, str | int]) -> dict[str, Any]:
        return self._call("GET", f"/v1/mailboxes/{_seg(mailbox_id)}/emails", query=query)

    def get_email(self, mailbox_id: str, email_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/mailboxes/{_seg(mailbox_id)}/emails/{_seg(email_id)}")

    def cancel(self, mailbox_id: str, email_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/mailboxes/{_seg(mailbox_id)}/emails/{_seg(email_id)}/cancel")

    # -- transport ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = self._base_url + path + (f"?{urlencode(query)}" if query else "")
        encoded = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        is_write = method != "GET"
        key = self._keys.get()
        refreshed = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last_attempt = attempt == MAX_ATTEMPTS
            try:
                status, headers, raw = self._exchange(method, url, key, encoded)
            except _NotConnected:
                if last_attempt or not self._pause(0.1 * attempt):
                    raise UpstreamUnavailableError(
                        "MultiMail could not be reached." + (" The email was not sent." if is_write else "")
                    ) from None
                continue
            except _NoAnswer as fault:
                if is_write or last_attempt or not self._pause(0.1 * attempt):
                    raise _unanswered(fault.reason, is_write) from None
                continue
            self._on_status(status)
            if status == 401 and not refreshed:
                refreshed = True
                fresh = self._keys.refresh_after_rejection(key)
                if fresh is not None:  # the key was rotated: MultiMail did not process the request
                    key = fresh
                    continue
            if status == 429 and not last_attempt:
                wait = _retry_after(headers)
                if wait is not None and wait <= 5 and self._pause(wait):
                    continue
            if status >= 500 and not is_write and not last_attempt and self._pause(0.2 * attempt):
                continue
            return _decode(status, headers, raw, is_write)
        raise AssertionError("unreachable: the last attempt always returns or raises")  # pragma: no cover

    def _exchange(self, method: str, url: str, key: str, body: bytes | None) -> tuple[int, Mapping[str, str], bytes]:
        remaining = self._deadline.remaining()
        if remaining < 0.05:
            raise _NoAnswer("no time was left to call MultiMail")
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json", "User-Agent": _USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, remaining), read=min(READ_TIMEOUT, remaining))
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=timeout,
                preload_content=False,
                redirect=False,
            )
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as error:
            raise _NotConnected from error
        except urllib3.exceptions.ReadTimeoutError:
            raise _NoAnswer("MultiMail did not answer in time") from None
        except urllib3.exceptions.HTTPError:
            raise _NoAnswer("the connection to MultiMail broke before an answer arrived") from None
        try:
            raw = self._read_body(response)
        except _NoAnswer:
            response.close()  # half read: drop the connection instead of pooling it, and read no more
            raise
        response.release_conn()
        return response.status, response.headers, raw

    def _read_body(self, response: urllib3.BaseHTTPResponse) -> bytes:
        """Read within the deadline and a size cap: a slow or endless body must not outlast us.

        Each read1() returns what one socket read brings, under a socket timeout cut to the time
        left, so a body dripped a few bytes at a time stops at the deadline.
        """
        chunks: list[bytes] = []
        size = 0
        try:
            while (remaining := self._deadline.remaining()) > 0:
                sock = getattr(response.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(min(remaining, READ_TIMEOUT))
                chunk = response.read1(16384)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _NoAnswer(f"MultiMail's answer was larger than {MAX_RESPONSE_BYTES // 1024} KB")
                chunks.append(chunk)
            raise _NoAnswer("MultiMail's answer did not arrive in time")
        except urllib3.exceptions.ReadTimeoutError:
            raise _NoAnswer("MultiMail's answer did not arrive in time") from None
        except urllib3.exceptions.HTTPError:
            raise _NoAnswer("the connection to MultiMail broke while it answered") from None

    def _pause(self, seconds: float) -> bool:
        """Sleep before another attempt if the budget allows one afterwards; False if it doesn't."""
        if self._deadline.remaining() < seconds + 1.0:
            return False
        time.sleep(seconds)
        return True


class _NotConnected(Exception):
    """No connection was made: the request cannot have reached MultiMail."""


class _NoAnswer(Exception):
    """The request may have reached MultiMail, but no usable answer came back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _seg(value: str) -> str:
    return quote(value, safe="")


def _retry_after(headers: Mapping[str, str]) -> int | None:
    try:
        return max(0, int(float(headers.get("Retry-After", ""))))
    except ValueError:
        return None


def _unanswered(reason: str, is_write: bool) -> UpstreamError:
    if is_write:
        return UpstreamTimeoutError(f"{reason}. MultiMail may or may not have queued the email.", email_may_exist=True)
    return UpstreamTimeoutError(f"{reason}. Nothing was changed; you may try again.")


def _error_text(raw: bytes) -> str:
    """MultiMail's own `error` message, shortened; never the raw body of an HTML error page."""
    try:
        message = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        return ""
    return " ".join(str(message).split())[:300] if message else ""


_ERRORS: dict[int, tuple[type[UpstreamError], str]] = {
    401: (
        AuthenticationError,
        "MultiMail rejected the function's API key. An operator must update the secret.",
    ),
    403: (
        PermissionDeniedError,
        "MultiMail does not allow this: the key lacks the scope, or the mailbox is read-only.",
    ),
    404: (
        NotFoundError,
        "MultiMail knows no such mailbox or email. Check the id (listInbox shows valid ids).",
    ),
    409: (ConflictError, "The email is not in a state that allows this."),
    422: (RejectedByMultiMailError, "MultiMail refused the request as invalid."),
}


def _decode(status: int, headers: Mapping[str, str], raw: bytes, is_write: bool) -> dict[str, Any]:
    if 200 <= status < 300:
        try:
            document = json.loads(raw) if raw.strip() else {}
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise UpstreamUnavailableError(
                "MultiMail answered, but not with the JSON object it should have."
                + (" It did accept the request, so the email is probably queued." if is_write else ""),
                upstream_status=status,
                email_may_exist=is_write,
            )
        return document
    detail = _error_text(raw)
    suffix = f" MultiMail said: {detail}" if detail else ""
    if status == 429:
        wait = _retry_after(headers)
        when = f"retry after {wait} s" if wait is not None else "retry later"
        not_sent = " The email was not sent." if is_write else ""
        raise RateLimitedError(
            f"MultiMail is rate limiting this mailbox; {when}.{not_sent}{suffix}", retry_after_seconds=wait
        )
    if status in _ERRORS:
        error_type, message = _ERRORS[status]
        raise error_type(message + suffix, upstream_status=status)
    if status >= 500:
        raise UpstreamUnavailableError(
            f"MultiMail failed with status {status}.{suffix}",
            upstream_status=status,
            email_may_exist=is_write,
        )
    raise UpstreamUnavailableError(
        f"MultiMail answered with unexpected status {status}.{suffix}", upstream_status=status
    )
