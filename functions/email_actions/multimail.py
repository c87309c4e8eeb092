"""The one adapter that talks to MultiMail: connection pool, time budget, retries, the API key,
and the translation of HTTP outcomes into domain errors. Nothing above it sees HTTP.

Retry policy, chosen so that an email is never sent twice:
- GET is retried on connection faults, timeouts, 5xx and fitting 429s, while time remains.
- POST is retried only when the request cannot have been processed: the connection was never
  made, MultiMail answered 401 (the key is refreshed once), or 429 with a Retry-After that fits.
  A POST that timed out or got a 5xx is reported, with the advice to check the pending list.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

import urllib3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ConnectTimeoutError as BotocoreConnectTimeout
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from email_actions import aws_clients, redaction
from email_actions.errors import (
    AuthenticationError,
    ConflictError,
    DuplicateReplyError,
    InvalidInputError,
    NotCancellableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ReadOnlyMailboxError,
    RejectedByMultiMailError,
    SecretUnavailableError,
    UnreadableAcceptanceError,
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
MAX_RETRY_AFTER_SECONDS = 3600  # a longer wait is no use within a conversation
UNREADABLE_RETRY_AFTER_SECONDS = 60  # MultiMail asked for a wait we cannot read: a cautious minute
MAX_JSON_DEPTH = 32  # MultiMail's documents are a few levels deep; deeper is not MultiMail
MAX_ERROR_TEXT_CHARS = 300
MAX_SCRUBBED_CHARS = 4_000  # what is scrubbed of a longer upstream text: the answer shows only its start
REDACTED = "[redacted]"
_USER_AGENT = "multimail-bedrock-agent/0.1"
_AWS_ERROR_CODE = re.compile(r"An error occurred \((\w+)\)")
MAX_SEGMENT_CHARS = 256
MAX_FILE_NAME_CHARS = 255
MAX_ATTACHMENT_BYTES = 1024 * 1024  # read of one attachment: far more than an answer can show of its text
# RFC 3986 unreserved characters, plus ':' and '@': path characters with no special meaning, ASCII only.
_PATH_SEGMENT = re.compile(rf"[A-Za-z0-9._~:@-]{{1,{MAX_SEGMENT_CHARS}}}")
# What botocore raises when Secrets Manager did not answer in time (or could not be reached).
_AWS_TIMEOUTS = (BotocoreConnectTimeout, ReadTimeoutError, EndpointConnectionError, aws_clients.NoTimeLeftError)
_HEADER_SAFE_KEY = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a bearer token can hold


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
        self._fetch = fetch  # a stand-in for Secrets Manager (tests); None reads the real secret
        self._clock = clock
        self._last_forced_refresh: float | None = None

    def get(self, seconds_left: float | None = None) -> str:
        """The key; a read from Secrets Manager (not the cache) ends within `seconds_left`."""
        return self._parse(self._read(force=False, seconds_left=seconds_left))

    def refresh_after_rejection(self, rejected_key: str, seconds_left: float | None = None) -> str | None:
        """A fresh key after MultiMail refused `rejected_key`, or None if there is no newer one."""
        now = self._clock()
        if self._last_forced_refresh is not None and now - self._last_forced_refresh < MIN_FORCED_REFRESH_INTERVAL:
            current = self.get(seconds_left)  # someone refreshed recently; don't ask Secrets Manager again
            return current if current != rejected_key else None
        self._last_forced_refresh = now
        fresh = self._parse(self._read(force=True, seconds_left=seconds_left))
        return fresh if fresh != rejected_key else None

    def _read(self, *, force: bool, seconds_left: float | None) -> str:
        try:
            if self._fetch is not None:
                return self._fetch(self.secret_id, force)
            return _fetch_secret(self.secret_id, force, seconds_left)
        except (GetParameterError, aws_clients.NoTimeLeftError) as error:
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


class _BoundedSecretsProvider(parameters.SecretsProvider):
    """Powertools' cached secrets provider whose every read from Secrets Manager ends within the
    time its call has left: the client is picked per read (aws_clients.bounded_client); the cache
    is the provider's own, shared by all calls."""

    def __init__(self, first_client: Any) -> None:
        super().__init__(boto3_client=first_client)

    def _get(self, name: str, **sdk_options: Any) -> str | bytes:
        seconds_left = sdk_options.pop(_SECONDS_LEFT, None)
        client = aws_clients.bounded_client("secretsmanager", math.inf if seconds_left is None else seconds_left)
        answer = client.get_secret_value(SecretId=name, **sdk_options)
        value: str | bytes = answer["SecretString"] if "SecretString" in answer else answer["SecretBinary"]
        return value


_SECONDS_LEFT = "seconds_left"  # our option, taken out before the SDK call


def _fetch_secret(secret_id: str, force: bool, seconds_left: float | None = None) -> str:
    global _key_reads
    _key_reads += 1
    if "secrets" not in DEFAULT_PROVIDERS:  # Powertools' cached provider, its clients from the shared session
        first = aws_clients.bounded_client("secretsmanager", math.inf if seconds_left is None else seconds_left)
        DEFAULT_PROVIDERS["secrets"] = _BoundedSecretsProvider(first)
    provider = DEFAULT_PROVIDERS["secrets"]
    options = {_SECONDS_LEFT: seconds_left} if isinstance(provider, _BoundedSecretsProvider) else {}
    value = provider.get(secret_id, max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force, **options)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _describe_secret_failure(secret_id: str, error: Exception) -> str:
    # Powertools wraps botocore's ClientError in its message ("An error occurred (Code) when ..."),
    # which names the secret but never holds its value.
    cause = error.__cause__ or error.__context__
    if isinstance(error, aws_clients.NoTimeLeftError) or isinstance(cause, _AWS_TIMEOUTS):
        return (
            f"The MultiMail API key could not be read from secret {secret_id}: Secrets Manager did not answer in the "
            "time this call had. The request was not sent; try again shortly, and if it keeps happening an operator "
            "must check Secrets Manager and the function's network."
        )
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
    # Each passes what its documented statuses mean (spec.json of multimail-dev/multimail-cli); the
    # statuses every endpoint shares are in _ERRORS.

    def send(self, mailbox_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """202 {id, status: pending_scan, thread_id, message}; 200 {id, status: already_sent, idempotent}."""
        path = f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/send"
        return _with_email_id(self._call("POST", path, body=payload, meanings=_SEND_ERRORS))

    def reply(self, mailbox_id: str, email_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """202 {id, status: pending_scan, thread_id}; 200 already_sent as for send."""
        path = f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/reply/{_seg(email_id, 'email_id')}"
        return _with_email_id(self._call("POST", path, body=payload, meanings=_REPLY_ERRORS))

    def list_emails(self, mailbox_id: str, query: Mapping[str, str | int]) -> dict[str, Any]:
        """{emails: [summaries without body], cursor}."""
        return self._call("GET", f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/emails", query=query)

    def get_email(self, mailbox_id: str, email_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/emails/{_seg(email_id, 'email_id')}")

    def get_thread(self, mailbox_id: str, thread_id: str) -> dict[str, Any]:
        """{thread_id, message_count, participants, last_activity, emails: [entries without body]}."""
        path = f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/threads/{_seg(thread_id, 'thread_id')}"
        return self._call("GET", path)

    def get_attachment(self, mailbox_id: str, email_id: str, filename: str) -> Download:
        """The attachment's raw bytes (at most MAX_ATTACHMENT_BYTES of them) and its Content-Type.

        The body is never parsed: it is whatever the sender attached. The key, should it appear in
        the bytes, is replaced as in every other answer."""
        path = (
            f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/emails/{_seg(email_id, 'email_id')}"
            f"/attachments/{_file_seg(filename)}"
        )
        status, headers, raw, secrets = self._attempts("GET", path, accept="*/*", cap=MAX_ATTACHMENT_BYTES)
        if not 200 <= status < 300:
            _decode(status, headers, raw, False, _ATTACHMENT_ERRORS, secrets=secrets)  # raises for every such status
        content = raw[:MAX_ATTACHMENT_BYTES]
        for secret in dict.fromkeys(s for s in secrets if s):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):  # the text encodings a key could be quoted in
                content = content.replace(secret.encode(encoding), REDACTED.encode(encoding))
        return Download(content, headers.get("Content-Type", ""), cut=len(raw) > MAX_ATTACHMENT_BYTES)

    def cancel(self, mailbox_id: str, email_id: str) -> dict[str, Any]:
        """200 {id, status: cancelled}, also when it already was; 409 when it no longer waits."""
        path = f"/v1/mailboxes/{_seg(mailbox_id, 'mailbox_id')}/emails/{_seg(email_id, 'email_id')}/cancel"
        return self._call("POST", path, meanings=_CANCEL_ERRORS)

    def list_mailboxes(self) -> dict[str, Any]:
        """{mailboxes: [{id, address, oversight_mode, ...}]}: the mailboxes the key may see (read scope).

        A side read (the default mailbox, the oversight mode that words an answer): the audit line keeps
        the status of the action's own request."""
        return self._call("GET", "/v1/mailboxes", audited=False)

    def get_account(self) -> dict[str, Any]:
        """{plan, monthly_email_quota, emails_sent_this_month, sending_disabled, sending_disabled_reason, ...}."""
        return self._call("GET", "/v1/account")

    def get_usage(self, query: Mapping[str, str | int]) -> dict[str, Any]:
        """{from, to, emails_sent, emails_received, ...} for the period `from`..`to` (epoch ms)."""
        return self._call("GET", "/v1/usage", query=query)

    # -- transport ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        meanings: Mapping[int, _Meaning] | None = None,
        audited: bool = True,
    ) -> dict[str, Any]:
        status, headers, raw, secrets = self._attempts(method, path, query=query, body=body, audited=audited)
        return _decode(status, headers, raw, method != "GET", meanings or {}, secrets=secrets)

    def _attempts(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        audited: bool = True,
        accept: str = "application/json",
        cap: int | None = None,
    ) -> tuple[int, Mapping[str, str], bytes, tuple[str, str]]:
        """The request, retried as the policy allows: the last answer's status, headers, body, and the keys used."""
        url = self._base_url + path + (f"?{urlencode(query)}" if query else "")
        encoded = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        is_write = method != "GET"
        key = first_key = self._keys.get(self._deadline.remaining())
        refreshed = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last_attempt = attempt == MAX_ATTEMPTS
            try:
                status, headers, raw = self._exchange(method, url, key, encoded, accept=accept, cap=cap)
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
            if audited:
                self._on_status(status)
            if status == 401 and not refreshed:
                refreshed = True
                fresh = self._keys.refresh_after_rejection(key, self._deadline.remaining())
                if fresh is not None:  # the key was rotated: MultiMail did not process the request
                    key = fresh
                    continue
            if status == 429 and not last_attempt:
                wait = _retry_after(headers)
                if wait is not None and wait <= 5 and self._pause(wait):
                    continue
            if status >= 500 and not is_write and not last_attempt and self._pause(0.2 * attempt):
                continue
            return status, headers, raw, (first_key, key)
        raise AssertionError("unreachable: the last attempt always returns or raises")  # pragma: no cover

    def _exchange(
        self,
        method: str,
        url: str,
        key: str,
        body: bytes | None,
        *,
        accept: str = "application/json",
        cap: int | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request; with `cap`, a body longer than `cap` bytes is read to cap + 1 bytes and no further."""
        remaining = self._deadline.remaining()
        if remaining < 0.05:
            raise _NoAnswer("no time was left to call MultiMail")
        if not _HEADER_SAFE_KEY.fullmatch(key):  # http.client would fail on it, or send bytes MultiMail can't match
            raise SecretUnavailableError(
                f"The secret {self._keys.secret_id} holds a MultiMail API key with characters that cannot be sent "
                "(only visible ASCII can). An operator must put the right key in; the request was not sent."
            )
        headers = {"Authorization": f"Bearer {key}", "Accept": accept, "User-Agent": _USER_AGENT}
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
            raw = self._read_body(response, cap)
        except _NoAnswer:
            response.close()  # half read: drop the connection instead of pooling it, and read no more
            raise
        if cap is not None and len(raw) > cap:
            response.close()  # the rest is not read: the connection cannot be reused
        else:
            response.release_conn()
        return response.status, response.headers, raw

    def _read_body(self, response: urllib3.BaseHTTPResponse, cap: int | None = None) -> bytes:
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
                if cap is not None and size > cap:  # enough: the caller says the rest was left out
                    chunks.append(chunk)
                    return b"".join(chunks)[: cap + 1]
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


def _with_email_id(accepted: dict[str, Any]) -> dict[str, Any]:
    """A send's or reply's 2xx answer, which must name the email it queued.

    Without a usable id (`{}`, an id that is not a string or not an id) the answer cannot be read:
    the email probably exists, but it cannot be reported, withdrawn or recorded as done. Raised as
    an error, so the exactly-once record is dropped (a repeat reaches MultiMail again, where the
    same idempotency_key finds the first email) and the model is told to check, not to resend.
    """
    email_id = accepted.get("id")
    if isinstance(email_id, str) and _PATH_SEGMENT.fullmatch(email_id) and email_id.strip("."):
        return accepted
    raise UnreadableAcceptanceError(
        "MultiMail answered that it accepted the request, but its answer could not be read (it names no email "
        "id), so whether and as which email it was queued is unknown."
    )


@dataclass(frozen=True, slots=True)
class Download:
    """An attachment as MultiMail served it: its first bytes, its declared type, and whether more was left."""

    content: bytes
    content_type: str  # the Content-Type header, as given ("" when there was none)
    cut: bool  # more than MAX_ATTACHMENT_BYTES: only that much was read


class _NotConnected(Exception):
    """No connection was made: the request cannot have reached MultiMail."""


class _NoAnswer(Exception):
    """The request may have reached MultiMail, but no usable answer came back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _seg(value: str, field: str) -> str:
    """One path segment that stays one segment, literally, however the URL is parsed or normalised.

    An id with a character outside a small set (which no URL library, proxy or server decodes,
    splits on or normalises), or made of dots alone (`.` and `..` are dot segments that urllib3
    and servers remove), is refused before any request: it could reach another endpoint.
    """
    if not _PATH_SEGMENT.fullmatch(value) or not value.strip("."):
        raise InvalidInputError(
            f"`{field}` is not a valid id: use the id exactly as listInbox, readEmail or listPendingEmails "
            f"gave it (1 to {MAX_SEGMENT_CHARS} letters, digits and - _ . ~ : @, not only dots). Nothing was sent.",
            fields=[field],
        )
    return quote(value, safe="")


def is_file_name(value: str) -> bool:
    """Whether `value` can be sent as one attachment name: one segment, whatever it holds once encoded.

    Any text is percent-encoded whole (quote with no safe characters), so only what would still act
    as path structure is refused: '/', '\\', dot segments, control characters, and over-long names."""
    return (
        0 < len(value) <= MAX_FILE_NAME_CHARS
        and value.strip(".") != ""
        and not any(c in "/\\" or unicodedata.category(c) in ("Cc", "Cs") for c in value)
    )


def _file_seg(value: str) -> str:
    """An attachment name as one percent-encoded path segment (the edge has checked it; this checks again)."""
    if not is_file_name(value):
        raise InvalidInputError(
            "`filename` is not a usable attachment name: use the name exactly as readEmail lists it (one name, "
            f"at most {MAX_FILE_NAME_CHARS} characters, no '/', '\\' or control characters, not '.' or '..'). "
            "Nothing was read.",
            fields=["filename"],
        )
    return quote(value, safe="")


def is_path_segment(value: str) -> bool:
    """Whether `_seg` would take `value` (a discovered mailbox id is kept only if it would)."""
    return _PATH_SEGMENT.fullmatch(value) is not None and bool(value.strip("."))


def _retry_after(headers: Mapping[str, str]) -> int | None:
    """Whole seconds to wait, from 0 to MAX_RETRY_AFTER_SECONDS, or None when MultiMail gave no Retry-After.

    RFC 9110 allows delay-seconds or an HTTP date (a date in the past means now). Anything else
    (NaN, garbage, two headers joined) is read as a cautious minute rather than failing the answer.
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    text = value.strip()
    seconds = _number(text)
    if seconds is None:
        seconds = _seconds_until(text)
    if seconds is None or math.isnan(seconds):
        return UNREADABLE_RETRY_AFTER_SECONDS
    if seconds >= MAX_RETRY_AFTER_SECONDS:
        return MAX_RETRY_AFTER_SECONDS
    return math.ceil(seconds) if seconds > 0 else 0  # never shorter than asked


def _number(text: str) -> float | None:
    if "_" in text:  # float() accepts 1_000; no HTTP peer means that
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _seconds_until(text: str) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # the asctime form carries no zone; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - time.time()


def _unanswered(reason: str, is_write: bool) -> UpstreamError:
    if is_write:
        return UpstreamTimeoutError(f"{reason}. MultiMail may or may not have queued the email.", email_may_exist=True)
    return UpstreamTimeoutError(f"{reason}. Nothing was changed; you may try again.")


# The numbers a 429 body may carry besides `error` (read by MultiMail's MCP server; not in its spec).
LIMIT_FIELDS = ("daily_sent", "daily_limit", "warmup_stage")


def _limit_facts(raw: bytes, secrets: Sequence[str] = ()) -> tuple[dict[str, int | float], dict[str, str]]:
    """A 429 body's numbers (only real, finite ones), and its texts (`hint`, a `warmup_stage` that is not
    a number) scrubbed and shortened: those travel under `untrusted`."""
    try:
        document = json.loads(raw, parse_constant=lambda constant: None)
    except (ValueError, RecursionError):
        return {}, {}
    if not isinstance(document, dict):
        return {}, {}
    numbers: dict[str, int | float] = {}
    texts: dict[str, str] = {}
    for name in (*LIMIT_FIELDS, "hint"):
        value = document.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and name != "hint":
            numbers[name] = value if abs(value) < 1e12 else math.copysign(1e12, value)
        elif isinstance(value, str) and value.strip() and name in ("hint", "warmup_stage"):
            texts[name] = _scrub(value[:MAX_SCRUBBED_CHARS], secrets)[:MAX_ERROR_TEXT_CHARS]
    return numbers, texts


def _error_text(raw: bytes, secrets: Sequence[str] = ()) -> str:
    """MultiMail's own `error` message, scrubbed of keys and shortened; never the raw body of an HTML page."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    message = document.get("error") if isinstance(document, dict) else None
    if isinstance(message, dict):  # {"error": {"message": ...}}, as some proxies answer
        message = message.get("message")
    if not isinstance(message, str):
        return ""
    return _scrub(message[:MAX_SCRUBBED_CHARS], secrets)[:MAX_ERROR_TEXT_CHARS]


# Credentials in upstream text: MultiMail keys (mm_live_..., mm_test_... and any other mm_<kind>_ key),
# and whatever follows a bearer scheme or an Authorization / api key / token label.
_KEY_SHAPED = re.compile(r"(?<![A-Za-z0-9])mm_[A-Za-z0-9]+_[^\s\"'<>,;()\[\]{}]*", re.IGNORECASE)
_LABELLED_SECRET = re.compile(
    r"\b(bearer\s+|(?:authorization|x-api-key|api[_ -]?key|access[_ -]?token|token|secret)\s*[:=]\s*"
    r"(?:(?:bearer|basic)\s+)?)(?!(?:bearer|basic)\b)([^\s\"'<>,;()\[\]{}]+)",
    re.IGNORECASE,
)


def _scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """Upstream text without the key, anything shaped like a MultiMail key, or a bearer token.

    The text is first unfolded the ways a key could hide in it: HTML entities and percent escapes
    decoded, compatibility forms (fullwidth letters) folded, invisible format characters removed,
    so that `mm&#95;live&#95;...` or a key split by a zero-width space is still found.
    """
    unfolded = unicodedata.normalize("NFKC", unquote(html.unescape(text)))
    unfolded = "".join(" " if c.isspace() else c for c in unfolded if c.isspace() or unicodedata.category(c)[0] != "C")
    for secret in secrets:
        if secret:
            unfolded = re.sub(re.escape(secret), REDACTED, unfolded, flags=re.IGNORECASE)
    unfolded = redaction.redact_key(unfolded, secrets)  # partial, spaced, reversed, encoded, look-alike
    unfolded = _KEY_SHAPED.sub(REDACTED, unfolded)
    unfolded = _LABELLED_SECRET.sub(lambda found: found.group(1) + REDACTED, unfolded)
    return " ".join(unfolded.split())


_Meaning = tuple[type[UpstreamError], str]

# What a status means on any endpoint; the endpoint's own table (below) wins where it has one.
_ERRORS: dict[int, _Meaning] = {
    400: (
        RejectedByMultiMailError,
        "MultiMail refused the request as invalid; nothing was changed. Check the parameters against the "
        "action's description and call again.",
    ),
    401: (
        AuthenticationError,
        "MultiMail rejected the function's API key. An operator must update the secret.",
    ),
    403: (
        PermissionDeniedError,
        "MultiMail refused: the function's API key lacks the scope for this (reading needs 'read', sending "
        "'send'). An operator must give the key that scope; retrying will not help.",
    ),
    404: (
        NotFoundError,
        "MultiMail knows no such mailbox or email. Check the id (listInbox shows valid ids).",
    ),
    409: (ConflictError, "MultiMail refused: the email is not in a state that allows this."),
    # Not in MultiMail's spec; kept so that an older or stricter server still reads as a refusal.
    422: (RejectedByMultiMailError, "MultiMail refused the request as invalid; nothing was changed."),
}

_NOT_SENT_400 = (
    "MultiMail refused {what}: it failed MultiMail's validation or its content filter stopped it. Nothing "
    "was sent. MultiMail's reason, when it gives one, is in untrusted.multimail_error. Tell the user what was "
    "refused, change what the reason points at (an address, the subject or the wording), confirm the new "
    "draft with the user, then call again once."
)
_READ_ONLY_403 = (
    "MultiMail refused to send from this mailbox: it is in read_only oversight mode, so the agent may read "
    "but not send. Nothing was sent. Tell the user that a human must change the mailbox's oversight mode in "
    "MultiMail (the agent cannot); do not try again until they have. (If the mailbox is not read_only, the "
    "function's API key lacks the 'send' scope and an operator must fix the key.)"
)
_SEND_ERRORS: dict[int, _Meaning] = {
    400: (RejectedByMultiMailError, _NOT_SENT_400.format(what="this email")),
    403: (ReadOnlyMailboxError, _READ_ONLY_403),
}
_REPLY_ERRORS: dict[int, _Meaning] = {
    400: (RejectedByMultiMailError, _NOT_SENT_400.format(what="this reply")),
    403: (ReadOnlyMailboxError, _READ_ONLY_403),
    404: (NotFoundError, "MultiMail knows no such email to reply to. Check email_id with listInbox."),
    409: (
        DuplicateReplyError,
        "MultiMail already queued a reply with this same text to this email within the last 60 seconds, so it "
        "did not queue it again: do NOT reply again now. listPendingEmails shows the earlier reply while it waits.",
    ),
}
_ATTACHMENT_ERRORS: dict[int, _Meaning] = {
    404: (
        NotFoundError,
        "MultiMail has no attachment of that name on this email (or no such email). Check the name with readEmail: "
        "pass it exactly as listed.",
    ),
}
_CANCEL_ERRORS: dict[int, _Meaning] = {
    404: (NotFoundError, "MultiMail knows no such email in this mailbox. Check email_id with listPendingEmails."),
    409: (
        NotCancellableError,
        "The email can no longer be withdrawn: it no longer waits for approval (a person already approved or "
        "rejected it, or it was sent). If it was sent seconds ago it may still be in its scan: check "
        "listPendingEmails and try again once it shows pending_send_approval.",
    ),
}


def _decode(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    is_write: bool,
    meanings: Mapping[int, _Meaning],
    *,
    secrets: Sequence[str] = (),
) -> dict[str, Any]:
    if 200 <= status < 300:  # 200 already_sent, 202 pending_scan and the plain 200s alike
        document = _json_object(raw, secrets)
        if document is None:
            raise UpstreamUnavailableError(
                "MultiMail answered, but not with the JSON object it should have."
                + (" It did accept the request, so the email is probably queued." if is_write else ""),
                upstream_status=status,
                email_may_exist=is_write,
            )
        return document
    said = _error_text(raw, secrets)
    if status == 429:
        wait = _retry_after(headers)
        limits, texts = _limit_facts(raw, secrets)
        when = f"retry after {wait} s" if wait is not None else "retry later"
        not_sent = " The email was not sent." if is_write else ""
        if "daily_sent" in limits and "daily_limit" in limits:
            what = (
                f"MultiMail's daily sending limit for this mailbox is reached ({limits['daily_sent']:g} of "
                f"{limits['daily_limit']:g} today; a new mailbox's limit grows as it warms up)"
            )
        else:
            what = "MultiMail is rate limiting this mailbox or its monthly quota is used up"
        raise RateLimitedError(
            f"{what}; {when}.{not_sent} Call getMailboxStatus to see the mailbox's oversight mode, how much it sent "
            "today and this month, and whether sending is disabled, and tell the user.",
            retry_after_seconds=wait,
            upstream_message=said,
            limits=limits,
            untrusted_facts=texts,
        )
    meaning = meanings.get(status) or _ERRORS.get(status)
    if meaning is not None:
        error_type, message = meaning
        raise error_type(message, upstream_status=status, upstream_message=said)
    if status >= 500:
        raise UpstreamUnavailableError(
            f"MultiMail failed with status {status}.",
            upstream_status=status,
            email_may_exist=is_write,
            upstream_message=said,
        )
    raise UpstreamUnavailableError(
        f"MultiMail answered with unexpected status {status}.",
        upstream_status=status,
        upstream_message=said,
    )


def _json_object(raw: bytes, secrets: Sequence[str]) -> dict[str, Any] | None:
    """A success body as a JSON object, or None if it is not one (bad JSON or UTF-8, too deep, a list).

    Every string in it is made safe to pass on: lone surrogates (valid JSON escapes, but not text)
    become U+FFFD, and the key, should MultiMail ever echo it, is redacted. NaN and Infinity,
    which Python's JSON accepts and no other parser does, become null.
    """
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw, parse_constant=lambda constant: None)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or _deeper_than(document, MAX_JSON_DEPTH):
        return None
    cleaned: dict[str, Any] = _clean(document, tuple(s for s in secrets if s))
    return cleaned


def _deeper_than(document: object, limit: int) -> bool:
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:  # a loop, not recursion: the depth is what is being checked
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            value = _SURROGATE.sub("\ufffd", value)
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_clean(k, secrets): _clean(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item, secrets) for item in value]
    return value
