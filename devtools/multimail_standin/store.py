"""In-memory state of the MultiMail stand-in (a development stand-in, not MultiMail).

Pure domain: mailboxes, emails, threads, API keys, idempotency records and the rate limiter.
Nothing here knows about HTTP; the server maps the ``...Error`` exceptions below to status codes.
Every public method of :class:`Store` takes one re-entrant lock, so concurrent requests see
consistent state and two concurrent sends with the same idempotency key create one email.

The email life cycle follows MultiMail API 2.0.0 (``spec.json`` of ``multimail-dev/multimail-cli``):
a send or reply is accepted in ``pending_scan``; ``scan_seconds`` later (measured on the store's clock,
applied lazily on the next access) it moves to ``pending_send_approval`` in a gated mailbox, or is sent
at once in a ``monitored`` or ``autonomous`` one. The human's decision (``/v1/oversight/decide``) sends
or rejects it. The spec's list filter enum names neither ``pending_scan`` nor ``sent``; the stand-in
shows both as an email's status (the spec's own 202 answer says ``pending_scan``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import math
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

Clock = Callable[[], float]
Direction = Literal["inbound", "outbound"]
OversightMode = Literal["read_only", "gated_all", "gated_send", "monitored", "autonomous"]

OVERSIGHT_MODES: Final[frozenset[str]] = frozenset({"read_only", "gated_all", "gated_send", "monitored", "autonomous"})
SCOPES: Final[frozenset[str]] = frozenset({"read", "send", "admin", "oversight"})
# The `status` filter of GET /v1/mailboxes/{id}/emails accepts exactly these (spec); anything else is 400.
LIST_STATUSES: Final = (
    "unread",
    "read",
    "archived",
    "deleted",
    "pending_send_approval",
    "pending_inbound_approval",
    "rejected",
    "cancelled",
    "send_failed",
    "scheduled",
    "spam_flagged",
    "spam_quarantined",
)
# Statuses the stand-in gives an email beyond the filter enum: right after a send, and once delivered.
TRANSIENT_STATUSES: Final = ("pending_scan", "sent")
# Statuses that wait for a human decision (what /v1/oversight/pending lists).
AWAITING_APPROVAL: Final[frozenset[str]] = frozenset({"pending_send_approval", "pending_inbound_approval"})
# The spec: "Cancels an email in pending_send_approval or pending_inbound_approval status". MultiMail's MCP
# server (cancel_message, schedule_email) says `scheduled` can be cancelled too: assumed here, and marked
# as an assumption in contract/multimail.openapi.json and docs/multimail-assumptions.md.
CANCELLABLE: Final[frozenset[str]] = AWAITING_APPROVAL | {"scheduled"}
GATE_TIMINGS: Final = ("gate_first", "schedule_first")
IDEMPOTENCY_WINDOW_SECONDS: Final = 24 * 60 * 60
DUPLICATE_REPLY_WINDOW_SECONDS: Final = 60
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 20
MAX_RECIPIENTS: Final = 50  # the spec's maxItems on a send's `to`; it gives no limit for cc and bcc
MAX_SUBJECT_CHARS: Final = 998
MAX_MARKDOWN_CHARS: Final = 262_144
DEFAULT_SCAN_SECONDS: Final = 0.3
SNIPPET_CHARS: Final = 120
# The stand-in's one deterministic content-filter trigger: a send or reply whose subject or body holds
# this phrase (any case) is refused with 400, as MultiMail refuses filtered content. For demos and tests.
CONTENT_FILTER_TRIGGER: Final = "STANDIN-CONTENT-FILTER"
SEND_ACCEPTED_MESSAGE: Final = "Email queued for scanning and delivery"


class StandInError(Exception):
    """Base class of the domain errors; the message is what the API puts in ``{"error": ...}``."""


class NotFoundError(StandInError):
    """Unknown mailbox, email or thread (404)."""


class ValidationError(StandInError):
    """The request is malformed: a missing field, a wrong type, a bad query parameter (400)."""


class ContentFilteredError(ValidationError):
    """The content filter refused the message (400, as the spec gives it)."""


class ConflictError(StandInError):
    """The email is in a state that does not allow the action, e.g. cancel after send (409)."""


class DuplicateReplyError(ConflictError):
    """The same reply content to the same email within 60 seconds (409)."""


class LimitReachedError(StandInError):
    """A send over the account's monthly quota or the mailbox's daily warm-up limit (429).

    ``fields`` are what the answer carries besides ``error``: MultiMail's 429 bodies give
    ``warmup_stage``, ``daily_sent``, ``daily_limit`` and ``hint`` (read by its MCP server).
    """

    def __init__(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class ForbiddenError(StandInError):
    """The mailbox's oversight mode forbids the action: sending from a ``read_only`` mailbox (403)."""


def iso_utc(timestamp: float) -> str:
    """Epoch seconds as ISO 8601 in UTC with a ``Z`` suffix, to the second."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_or_none(timestamp: float | None) -> str | None:
    return None if timestamp is None else iso_utc(timestamp)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class ApiKey:
    """An API key: its secret value, the account that owns it and its scopes."""

    value: str
    owner: str
    scopes: frozenset[str]


# Mailboxes of the seed exist since this instant (the spec gives `created_at` in epoch ms).
_MAILBOX_CREATED_MS: Final = 1_746_057_600_000  # 2025-05-01T00:00:00Z


@dataclass
class Mailbox:
    id: str
    address: str
    display_name: str
    oversight_mode: str = "gated_send"
    tenant_id: str = "acct_standin"
    default_gate_timing: str = "gate_first"
    is_active: int = 1  # 0 after DELETE /v1/mailboxes/{id}, a soft delete: still listed (assumed), never usable

    def to_json(self) -> dict[str, Any]:
        """The spec's Mailbox schema, field for field."""
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "address": self.address,
            "display_name": self.display_name,
            "oversight_mode": self.oversight_mode,
            "auto_cc": None,
            "auto_bcc": None,
            "forward_inbound": 0,
            "webhook_url": None,
            "oversight_webhook_url": None,
            "signature_block": None,
            "created_at": _MAILBOX_CREATED_MS,
            "is_active": self.is_active,
            # Beyond the spec's Mailbox schema, as MultiMail's MCP server reads them: answers carry
            # additive fields, and our contract and client must take them.
            "mcp_configured": True,
            "default_gate_timing": self.default_gate_timing,
        }


@dataclass(frozen=True)
class Attachment:
    """An attachment's metadata as the read view gives it: ``{name, size, content_type}``."""

    name: str
    content_type: str
    size: int
    content: bytes = b""  # what the download endpoint serves (the read view gives only the metadata)

    @property
    def filename(self) -> str:  # the name before the spec's shapes; kept for callers
        return self.name

    @property
    def size_bytes(self) -> int:
        return self.size

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "content_type": self.content_type}


# The fields of a thread's email (the spec's ThreadResponse item): a subset of the summary's.
_THREAD_ENTRY_FIELDS: Final = (
    "id",
    "from",
    "to",
    "subject",
    "direction",
    "status",
    "received_at",
    "has_attachments",
    "delivered_at",
    "bounced_at",
)


@dataclass
class Email:
    """One email as a mailbox sees it. ``sender`` is the API's ``from``."""

    id: str
    mailbox_id: str
    thread_id: str
    sender: str
    to: list[str]
    subject: str
    markdown: str
    status: str
    direction: Direction
    received_at: float
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    in_reply_to: str | None = None
    idempotency_key: str | None = None
    rejection_reason: str | None = None
    scan_done_at: float | None = None  # when a pending_scan email moves on
    send_at: float | None = None  # scheduled delivery (spec SendEmailRequest.send_at)
    gate_timing: str | None = None  # gate_first or schedule_first; None: the mailbox's default
    delivered_at: float | None = None
    approved_at: float | None = None
    approved_by: str | None = None
    seq: int = 0  # insertion order, set by the store; breaks ties between equal timestamps

    @property
    def snippet(self) -> str:
        """A one-line preview for people (the CLI); the API's summaries carry none."""
        text = " ".join(self.markdown.split())
        if len(text) <= SNIPPET_CHARS:
            return text
        return text[:SNIPPET_CHARS].rstrip() + "…"

    @property
    def _spam_verdict(self) -> str | None:
        return "clean" if self.direction == "inbound" else None

    def summary(self) -> dict[str, Any]:
        """The list view (the spec's EmailSummary): no body, no cc, no snippet."""
        return {
            "id": self.id,
            "from": self.sender,
            "to": list(self.to),
            "subject": self.subject,
            "direction": self.direction,
            "status": self.status,
            "spam_score": None,
            "spam_verdict": self._spam_verdict,
            "received_at": iso_utc(self.received_at),
            "thread_id": self.thread_id,
            "has_attachments": bool(self.attachments),
            "delivered_at": _iso_or_none(self.delivered_at),
            "bounced_at": None,
            "bounce_type": None,
        }

    def full(self) -> dict[str, Any]:
        """The read view (the spec's EmailResponse): body under ``markdown``, attachments' metadata."""
        return {
            "id": self.id,
            "from": self.sender,
            "to": list(self.to),
            "cc": list(self.cc),
            "subject": self.subject,
            "received_at": iso_utc(self.received_at),
            "thread_id": self.thread_id,
            "markdown": self.markdown,
            "status": self.status,
            "has_attachments": bool(self.attachments),
            "attachments": [attachment.to_json() for attachment in self.attachments],
            "delivered_at": _iso_or_none(self.delivered_at),
            "bounced_at": None,
            "bounce_type": None,
            "approved_at": _iso_or_none(self.approved_at),
            "approved_by": self.approved_by,
            "spam_score": None,
            "spam_verdict": self._spam_verdict,
            "tags": {},
        }

    def thread_entry(self) -> dict[str, Any]:
        """One email of a thread (the spec's ThreadResponse item): the summary's fields it names."""
        summary = self.summary()
        return {name: summary[name] for name in _THREAD_ENTRY_FIELDS}

    def oversight_entry(self) -> dict[str, Any]:
        """One email of ``GET /v1/oversight/pending``: the body, for the human who decides."""
        return {
            "id": self.id,
            "mailbox_id": self.mailbox_id,
            "direction": self.direction,
            "from": self.sender,
            "to": list(self.to),
            "subject": self.subject,
            "body_markdown": self.markdown,
            "status": self.status,
            "received_at": iso_utc(self.received_at),
        }

    def answer(self) -> dict[str, Any]:
        """What a reply's 202 carries; a send's adds ``message``."""
        return {"id": self.id, "status": self.status, "thread_id": self.thread_id}


def decision_status(email: Email) -> str:
    """What ``/v1/oversight/decide`` answers for an email the human just decided on."""
    if email.status == "rejected":
        return "rejected"
    return "approved_and_sent" if email.direction == "outbound" and email.status == "sent" else "approved"


@dataclass
class Account:
    """The account's own settings (the spec's AccountInfo) and the stand-in's limits.

    ``daily_limit`` (None = none) is a mailbox's daily warm-up limit: a send beyond it is 429 with the
    warm-up fields. ``sending_disabled`` is only reported: the spec does not say how MultiMail refuses then.
    """

    id: str = "acct_standin"
    name: str = "Stand-in account"
    plan: str = "starter"
    # MultiMail's free plan allows 200 a month; the stand-in's default is higher so that long test runs
    # never reach it. Set it lower to see the quota's 429.
    monthly_email_quota: int = 10_000
    sending_disabled: bool = False
    sending_disabled_reason: str | None = None
    daily_limit: int | None = None
    warmup_stage: str = "stage_1"


@dataclass(frozen=True)
class SendOutcome:
    """The answer to a send or reply. ``replayed`` is true when an idempotency key matched (200)."""

    email: Email
    answer: dict[str, Any]
    replayed: bool


@dataclass(frozen=True)
class Page:
    emails: list[Email]
    next_cursor: str | None


@dataclass(frozen=True)
class ListFilter:
    """The list endpoint's query, as strings from the URL; :meth:`Store.list_emails` checks them."""

    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    direction: str | None = None
    status: str | None = None
    sender: str | None = None
    subject_contains: str | None = None
    date_after: str | None = None
    date_before: str | None = None
    has_attachments: str | None = None
    since_id: str | None = None


@dataclass(frozen=True)
class _IdempotencyRecord:
    email_id: str
    created_at: float


class RateLimiter:
    """A sliding one-minute window per bucket (the stand-in uses one bucket per API key).

    Rejected requests do not count against the window.
    """

    def __init__(self, limit_per_minute: int | None, clock: Clock) -> None:
        if limit_per_minute is not None and limit_per_minute < 1:
            raise ValueError("limit_per_minute must be at least 1 (or None for no limit)")
        self.limit_per_minute = limit_per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str) -> int | None:
        """Count one request. Returns None when allowed, else the seconds to wait (at least 1)."""
        if self.limit_per_minute is None:
            return None
        now = self._clock()
        with self._lock:
            window = self._hits.setdefault(bucket, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.limit_per_minute:
                return max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def _looks_like_address(value: object) -> bool:
    if not isinstance(value, str) or any(ch.isspace() for ch in value) or value.count("@") != 1:
        return False
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and not domain.startswith(".") and not domain.endswith(".")


def _address_list(body: Mapping[str, Any], name: str, *, required: bool, max_items: int | None = None) -> list[str]:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is required: a non-empty list of email addresses")
        return []
    if not isinstance(value, list):
        raise ValidationError(f"'{name}' must be a list of email addresses")
    if required and not value:
        raise ValidationError(f"'{name}' must contain at least one email address")
    if max_items is not None and len(value) > max_items:
        raise ValidationError(f"'{name}' may hold at most {max_items} addresses")
    for item in value:
        if not _looks_like_address(item):
            raise ValidationError(f"'{name}' contains an invalid email address: {item!r}")
    return [str(item) for item in value]


def _string(body: Mapping[str, Any], name: str, max_chars: int) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' is required and must be a string")
    if len(value) > max_chars:
        raise ValidationError(f"'{name}' is longer than {max_chars} characters")
    return value


def _attachments(body: Mapping[str, Any]) -> list[Attachment]:
    """The spec's send shape: ``{name, content_base64, content_type}``, all three required."""
    value = body.get("attachments")
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("'attachments' must be a list of objects")
    result: list[Attachment] = []
    for item in value:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(name), str) for name in ("name", "content_base64", "content_type")
        ):
            raise ValidationError("each attachment needs 'name', 'content_base64' and 'content_type' strings")
        if not item["name"]:
            raise ValidationError("an attachment's 'name' must not be empty")
        try:
            size = len(base64.b64decode(item["content_base64"], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(f"attachment {item['name']!r}: 'content_base64' is not base64") from exc
        content = base64.b64decode(item["content_base64"], validate=True)
        result.append(Attachment(item["name"], item["content_type"], size, content))
    return result


def _idempotency_key(body: Mapping[str, Any]) -> str | None:
    value = body.get("idempotency_key")
    if value is None:
        return None
    if not isinstance(value, str):  # the spec gives the type only: no length limit
        raise ValidationError("'idempotency_key' must be a string")
    return value


def _schedule(body: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """``send_at`` (ISO 8601 UTC ending in Z) as an instant, and ``gate_timing`` (gate_first or schedule_first).

    The spec says nothing of a time in the past; the stand-in then sends as if no time were given.
    """
    send_at = body.get("send_at")
    instant = _parse_instant(send_at) if isinstance(send_at, str) and send_at.endswith("Z") else None
    if send_at is not None and instant is None:
        raise ValidationError("'send_at' must be an ISO 8601 UTC time ending with Z, e.g. 2026-03-15T14:00:00Z")
    gate_timing = body.get("gate_timing")
    if gate_timing is not None and gate_timing not in GATE_TIMINGS:
        raise ValidationError("'gate_timing' must be 'gate_first' or 'schedule_first'")
    return instant, gate_timing


def _check_content(*texts: str) -> None:
    if any(CONTENT_FILTER_TRIGGER.lower() in text.lower() for text in texts):
        raise ContentFilteredError("Content filtered: the message was blocked by the content filter and not sent")


def _parse_instant(raw: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _instant_param(name: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    instant = _parse_instant(raw)
    if instant is None:
        raise ValidationError(f"'{name}' must be an ISO 8601 date or time")
    return instant


def _choice(name: str, raw: str | None, allowed: Iterable[str]) -> str | None:
    options = tuple(allowed)
    if raw is not None and raw not in options:
        raise ValidationError(f"'{name}' must be one of: {', '.join(options)}")
    return raw


def _reply_subject(subject: str) -> str:
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


def _encode_cursor(email: Email) -> str:
    raw = f"{email.received_at!r}:{email.seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        timestamp, _, seq = raw.partition(":")
        return float(timestamp), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("'cursor' is not a cursor this server returned") from exc


def _sort_key(email: Email) -> tuple[float, int]:
    return (email.received_at, email.seq)


@dataclass(frozen=True)
class _Selection:
    """A checked :class:`ListFilter`: what an email must match to be listed."""

    direction: str | None
    status: str | None
    sender: str | None
    subject_contains: str | None
    after: float | None
    before: float | None
    has_attachments: bool | None
    newer_than: tuple[float, int] | None
    older_than: tuple[float, int] | None

    def matches(self, email: Email) -> bool:
        key = _sort_key(email)
        return (
            (self.direction is None or email.direction == self.direction)
            and (self.status is None or email.status == self.status)
            and (self.sender is None or self.sender.lower() in email.sender.lower())
            and (self.subject_contains is None or self.subject_contains.lower() in email.subject.lower())
            and (self.after is None or email.received_at > self.after)
            and (self.before is None or email.received_at < self.before)
            and (self.has_attachments is None or bool(email.attachments) == self.has_attachments)
            and (self.newer_than is None or key > self.newer_than)
            and (self.older_than is None or key < self.older_than)
        )


class Store:
    """All state of one stand-in. Thread-safe; returns copies, never live objects.

    ``scan_seconds`` is how long a new send or reply stays in ``pending_scan`` (0 = it moves on at the
    next access; the send's own answer still says ``pending_scan``).
    """

    def __init__(self, clock: Clock, *, scan_seconds: float = DEFAULT_SCAN_SECONDS) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._mailboxes: dict[str, Mailbox] = {}
        self._emails: dict[str, Email] = {}
        self._keys: dict[str, ApiKey] = {}
        self._idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
        self._seq = 0
        self._bulk_counter = 0
        self.account = Account()
        self.scan_seconds = scan_seconds

    @property
    def scan_seconds(self) -> float:
        return self._scan_seconds

    @scan_seconds.setter
    def scan_seconds(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("scan_seconds must be 0 or more")
        self._scan_seconds = seconds

    # ── keys ─────────────────────────────────────────────────────────────

    def add_key(self, value: str, scopes: Iterable[str], owner: str = "account") -> ApiKey:
        scope_set = frozenset(scopes)
        unknown = scope_set - SCOPES
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}")
        if {"send", "oversight"} <= scope_set:
            raise ValueError("a key may not hold both 'send' and 'oversight' (separation of duties)")
        key = ApiKey(value, owner, scope_set)
        with self._lock:
            self._keys[value] = key
        return key

    def revoke_key(self, value: str) -> None:
        with self._lock:
            self._keys.pop(value, None)

    def replace_key(self, old: str, new: str) -> ApiKey:
        """Rotation: ``new`` gets ``old``'s owner and scopes, and ``old`` stops working."""
        with self._lock:
            previous = self._keys.pop(old, None)
            if previous is None:
                raise KeyError(old)
            key = ApiKey(new, previous.owner, previous.scopes)
            self._keys[new] = key
            return key

    def lookup_key(self, value: str) -> ApiKey | None:
        with self._lock:
            return self._keys.get(value)

    # ── mailboxes and seeding ────────────────────────────────────────────

    def add_mailbox(self, mailbox: Mailbox) -> None:
        if mailbox.oversight_mode not in OVERSIGHT_MODES:
            raise ValueError(f"unknown oversight mode {mailbox.oversight_mode!r}")
        with self._lock:
            self._mailboxes[mailbox.id] = copy.copy(mailbox)

    def mailboxes(self) -> list[Mailbox]:
        with self._lock:
            return [copy.copy(mailbox) for mailbox in self._mailboxes.values()]

    def mailbox(self, mailbox_id: str) -> Mailbox:
        with self._lock:
            return copy.copy(self._mailbox(mailbox_id))

    def set_oversight_mode(self, mailbox_id: str, mode: str, *, known: bool = True) -> None:
        """``known=False`` (an extra) takes a mode beyond the spec's enum, as a newer MultiMail may give one;
        the stand-in then holds outgoing mail as in a gated mode."""
        if known and mode not in OVERSIGHT_MODES:
            raise ValueError(f"unknown oversight mode {mode!r}; one of {sorted(OVERSIGHT_MODES)}")
        with self._lock:
            self._mailbox(mailbox_id).oversight_mode = mode

    def soft_delete_mailbox(self, mailbox_id: str) -> None:
        """What the spec's DELETE /v1/mailboxes/{id} does: the mailbox stays listed with is_active 0 (assumed:
        the spec does not say whether the list shows it) and no longer sends or reads."""
        with self._lock:
            self._mailbox(mailbox_id).is_active = 0

    def add_email(self, email: Email) -> Email:
        """Store an email as given (seeds, test fixtures). Its ``seq`` is assigned here."""
        with self._lock:
            self._mailbox(email.mailbox_id)
            if email.id in self._emails:
                raise ValueError(f"duplicate email id {email.id!r}")
            stored = copy.deepcopy(email)
            self._seq += 1
            stored.seq = self._seq
            self._emails[stored.id] = stored
            return copy.deepcopy(stored)

    def seed_bulk(self, mailbox_id: str, count: int, *, newest_at: float) -> list[str]:
        """Add ``count`` generated inbound emails, one minute apart, the newest at ``newest_at``.

        Every call continues the numbering (``em_bulk_0001``, ``em_bulk_0002``, ...). Returns the ids.
        """
        ids: list[str] = []
        with self._lock:
            mailbox = self._mailbox(mailbox_id)
            for offset in range(count):
                self._bulk_counter += 1
                number = self._bulk_counter
                sender = f"sender{number % 37:02d}@bulk.example"
                self.add_email(
                    Email(
                        id=f"em_bulk_{number:04d}",
                        mailbox_id=mailbox_id,
                        thread_id=f"th_bulk_{number:04d}",
                        sender=sender,
                        to=[mailbox.address],
                        subject=f"Order update #{number:04d}",
                        markdown=(
                            f"Hello,\n\nThis is generated message number {number} for paging tests. "
                            "Your order has moved to the next step. No action is needed.\n\n"
                            "-- The bulk sender"
                        ),
                        status="unread" if number % 3 else "read",
                        direction="inbound",
                        received_at=newest_at - 60.0 * (count - 1 - offset),
                    )
                )
                ids.append(f"em_bulk_{number:04d}")
        return ids

    # ── the scan ─────────────────────────────────────────────────────────

    def finish_scans(self, email_id: str | None = None) -> None:
        """End the scan now: of one email, or of every email still in ``pending_scan``."""
        with self._lock:
            for email in list(self._emails.values()):
                if email.status == "pending_scan" and email_id in (None, email.id):
                    self._finish_scan(email)

    def _advance_scans(self) -> None:
        now = self._clock()
        for email in list(self._emails.values()):
            if email.status == "pending_scan" and email.scan_done_at is not None and email.scan_done_at <= now:
                self._finish_scan(email)
        self._advance_schedules()

    def _finish_scan(self, email: Email) -> None:
        # gated_send and gated_all wait for a human; monitored and autonomous send at once. A scheduled
        # email waits for its time: after approval (gate_first, the default), or before it (schedule_first).
        mailbox = self._mailboxes[email.mailbox_id]
        schedule_first = (email.gate_timing or mailbox.default_gate_timing) == "schedule_first"
        if self._gated(email) and not (schedule_first and self._before_its_time(email)):
            email.status = "pending_send_approval"
        else:
            self._release(email)

    def _advance_schedules(self) -> None:
        """A scheduled email whose time has come goes out, or to a person first (schedule_first)."""
        for email in list(self._emails.values()):
            if email.status == "scheduled" and not self._before_its_time(email):
                if self._gated(email) and email.approved_at is None:
                    email.status = "pending_send_approval"
                else:
                    self._mark_sent(email)

    def _gated(self, email: Email) -> bool:
        return self._mailboxes[email.mailbox_id].oversight_mode not in ("monitored", "autonomous")

    def _before_its_time(self, email: Email) -> bool:
        return email.send_at is not None and email.send_at > self._clock()

    def _release(self, email: Email) -> None:
        """Approved, or needing no approval: sent now, or `scheduled` until its send_at."""
        if self._before_its_time(email):
            email.status = "scheduled"
        else:
            self._mark_sent(email)

    # ── reading ──────────────────────────────────────────────────────────

    def emails(self, mailbox_id: str | None = None) -> list[Email]:
        """Copies of the emails of one mailbox (or all), oldest first."""
        with self._lock:
            self._advance_scans()
            chosen = [e for e in self._emails.values() if mailbox_id is None or e.mailbox_id == mailbox_id]
            return [copy.deepcopy(e) for e in sorted(chosen, key=_sort_key)]

    def email(self, email_id: str) -> Email:
        with self._lock:
            self._advance_scans()
            found = self._emails.get(email_id)
            if found is None:
                raise NotFoundError(f"email {email_id} not found")
            return copy.deepcopy(found)

    def list_emails(self, mailbox_id: str, query: ListFilter | None = None, **filters: Any) -> Page:
        """One page, newest first. The cursor names the last email of the previous page.

        Pass a :class:`ListFilter`, or its fields as keywords (``limit=5, direction="outbound"``).
        """
        query = query or ListFilter(**filters)
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"'limit' must be between 1 and {MAX_PAGE_SIZE}")
        with self._lock:
            self._mailbox(mailbox_id)
            self._advance_scans()
            selection = self._selection(mailbox_id, query)
            chosen = sorted(
                (e for e in self._emails.values() if e.mailbox_id == mailbox_id and selection.matches(e)),
                key=_sort_key,
                reverse=True,
            )
            page = [copy.deepcopy(e) for e in chosen[: query.limit]]
            next_cursor = _encode_cursor(page[-1]) if len(chosen) > query.limit else None
            return Page(page, next_cursor)

    def _selection(self, mailbox_id: str, query: ListFilter) -> _Selection:
        newer_than = None
        if query.since_id is not None:
            since = self._emails.get(query.since_id)
            if since is None or since.mailbox_id != mailbox_id:
                raise ValidationError(f"'since_id' names no email of mailbox {mailbox_id}")
            newer_than = _sort_key(since)
        has_attachments = _choice("has_attachments", query.has_attachments, ("true", "false"))
        return _Selection(
            direction=_choice("direction", query.direction, ("inbound", "outbound")),
            status=_choice("status", query.status, LIST_STATUSES),
            sender=query.sender,
            subject_contains=query.subject_contains,
            after=_instant_param("date_after", query.date_after),
            before=_instant_param("date_before", query.date_before),
            has_attachments=None if has_attachments is None else has_attachments == "true",
            newer_than=newer_than,
            older_than=_decode_cursor(query.cursor) if query.cursor else None,
        )

    def read_email(self, mailbox_id: str, email_id: str) -> Email:
        """The full email. Reading an ``unread`` inbound email marks it ``read``."""
        with self._lock:
            self._advance_scans()
            email = self._email_in(mailbox_id, email_id)
            if email.direction == "inbound" and email.status == "unread":
                email.status = "read"
            return copy.deepcopy(email)

    def attachment(self, mailbox_id: str, email_id: str, name: str) -> Attachment:
        """One attachment of an email, by its exact name (the spec's download endpoint); 404 if none."""
        with self._lock:
            email = self._email_in(mailbox_id, email_id)
            for attachment in email.attachments:
                if attachment.name == name:
                    return attachment
        raise NotFoundError(f"attachment not found on email {email_id}")

    def thread(self, mailbox_id: str, thread_id: str) -> list[Email]:
        """The mailbox's emails of one thread, oldest first."""
        with self._lock:
            self._mailbox(mailbox_id)
            self._advance_scans()
            found = [e for e in self._emails.values() if e.mailbox_id == mailbox_id and e.thread_id == thread_id]
            if not found:
                raise NotFoundError(f"thread {thread_id} not found")
            return [copy.deepcopy(e) for e in sorted(found, key=_sort_key)]

    def pending(self) -> list[Email]:
        """Emails of every mailbox that wait for a human decision, oldest first."""
        with self._lock:
            self._advance_scans()
            found = [e for e in self._emails.values() if e.status in AWAITING_APPROVAL]
            return [copy.deepcopy(e) for e in sorted(found, key=_sort_key)]

    # ── writing ──────────────────────────────────────────────────────────

    def send(self, owner: str, mailbox_id: str, body: Mapping[str, Any]) -> SendOutcome:
        """``POST /v1/mailboxes/{mailbox_id}/send``. ``owner`` scopes the idempotency keys."""
        with self._lock:
            self._advance_scans()
            mailbox = self._sendable_mailbox(mailbox_id)
            to = _address_list(body, "to", required=True, max_items=MAX_RECIPIENTS)
            subject = _string(body, "subject", MAX_SUBJECT_CHARS)
            outcome = self._queue_outgoing(owner, mailbox, body, to=to, subject=subject, thread_id=new_id("th"))
            if outcome.replayed:
                return outcome
            return SendOutcome(outcome.email, {**outcome.answer, "message": SEND_ACCEPTED_MESSAGE}, replayed=False)

    def reply(self, owner: str, mailbox_id: str, email_id: str, body: Mapping[str, Any]) -> SendOutcome:
        """``POST /v1/mailboxes/{mailbox_id}/reply/{email_id}``: to the original's sender, same thread."""
        with self._lock:
            self._advance_scans()
            mailbox = self._sendable_mailbox(mailbox_id)
            original = self._email_in(mailbox_id, email_id)
            return self._queue_outgoing(
                owner,
                mailbox,
                body,
                to=[original.sender] if original.direction == "inbound" else list(original.to),
                subject=_reply_subject(original.subject),
                thread_id=original.thread_id,
                in_reply_to=original.id,
            )

    def _queue_outgoing(
        self,
        owner: str,
        mailbox: Mailbox,
        body: Mapping[str, Any],
        *,
        to: list[str],
        subject: str,
        thread_id: str,
        in_reply_to: str | None = None,
    ) -> SendOutcome:
        """What send and reply share: the rest of the body, the idempotency replay, the filters, the email."""
        markdown = _string(body, "markdown", MAX_MARKDOWN_CHARS)
        send_at, gate_timing = _schedule(body) if in_reply_to is None else (None, None)  # reply: not in the spec
        cc = _address_list(body, "cc", required=False)
        bcc = _address_list(body, "bcc", required=False)
        attachments = _attachments(body)
        key = _idempotency_key(body)
        replay = self._replay(owner, key)
        if replay is not None:
            return replay
        self._check_limits(mailbox)
        _check_content(subject, markdown)
        if in_reply_to is not None:
            self._refuse_duplicate_reply(mailbox.id, in_reply_to, markdown)
        now = self._clock()
        email = Email(
            id=new_id("em"),
            mailbox_id=mailbox.id,
            thread_id=thread_id,
            sender=mailbox.address,
            to=to,
            cc=cc,
            bcc=bcc,
            subject=subject,
            markdown=markdown,
            attachments=attachments,
            status="pending_scan",
            direction="outbound",
            received_at=now,
            in_reply_to=in_reply_to,
            idempotency_key=key,
            scan_done_at=now + self._scan_seconds,
            send_at=send_at,
            gate_timing=gate_timing,
        )
        stored = self.add_email(email)
        if key is not None:
            self._idempotency[(owner, key)] = _IdempotencyRecord(stored.id, now)
        return SendOutcome(stored, stored.answer(), replayed=False)

    def cancel(self, mailbox_id: str, email_id: str) -> Email:
        """Stop an email that waits for approval. Cancelling twice is fine; anything else is a conflict."""
        with self._lock:
            self._advance_scans()
            email = self._email_in(mailbox_id, email_id)
            if email.status == "cancelled":
                return copy.deepcopy(email)
            if email.status not in CANCELLABLE:
                raise ConflictError(f"Email not in a cancellable state (status: {email.status})")
            email.status = "cancelled"
            return copy.deepcopy(email)

    def decide(self, email_id: object, action: object, reason: object = None, *, approver: str = "oversight") -> Email:
        """The human's decision on a pending email: ``approve`` sends it, ``reject`` stops it.

        An email that does not wait for a decision (unknown, still scanning, already decided) is
        "Email not found", the one failure the spec gives for this endpoint.
        """
        if not isinstance(email_id, str) or not email_id:
            raise ValidationError("'email_id' is required and must be a string")
        if action not in ("approve", "reject"):
            raise ValidationError("'action' must be 'approve' or 'reject'")
        if reason is not None and not isinstance(reason, str):
            raise ValidationError("'reason' must be a string")
        with self._lock:
            self._advance_scans()
            email = self._emails.get(email_id)
            if email is None or email.status not in AWAITING_APPROVAL:
                state = "" if email is None else f" (status: {email.status})"
                raise NotFoundError(f"Email not found: no email {email_id} waits for a decision{state}")
            if action == "reject":
                email.status = "rejected"
                email.rejection_reason = reason
                return copy.deepcopy(email)
            email.approved_at = self._clock()
            email.approved_by = approver
            if email.direction == "outbound":
                self._release(email)
            else:
                email.status = "unread"
            return copy.deepcopy(email)

    # ── the account: GET /v1/account and GET /v1/usage ──────────────────

    def account_info(self, owner: str) -> dict[str, Any]:
        """The spec's AccountInfo; emails_sent_this_month counts the outbound emails of this UTC month."""
        with self._lock:
            self._advance_scans()
            now = datetime.fromtimestamp(self._clock(), UTC)
            month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
            account = self.account
            return {
                "id": owner,
                "name": account.name,
                "slug": "standin",
                "plan": account.plan,
                "oversight_email": "operator@example.com",
                "physical_address": None,
                "monthly_email_quota": account.monthly_email_quota,
                "emails_sent_this_month": self._outbound_since(month_start, owner),
                "max_mailboxes": 3,
                "storage_used_bytes": 0,
                "max_storage_bytes": 1_073_741_824,
                "is_active": True,
                "sending_disabled": account.sending_disabled,
                "sending_disabled_reason": account.sending_disabled_reason,
            }

    def usage(self, owner: str, since_ms: int | None, until_ms: int | None, breakdown: str | None) -> dict[str, Any]:
        """The spec's UsageSummary (or UsageDaily) for ``from``..``to`` in epoch ms (default: this UTC month)."""
        with self._lock:
            self._advance_scans()
            now = self._clock()
            month_start = datetime.fromtimestamp(now, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            start = since_ms / 1000 if since_ms is not None else month_start.timestamp()
            end = until_ms / 1000 if until_ms is not None else now
            chosen = [
                e
                for e in self._emails.values()
                if self._mailboxes[e.mailbox_id].tenant_id == owner and start <= e.received_at <= end
            ]
            period = {"from": int(start * 1000), "to": int(end * 1000)}
            if breakdown == "daily":
                counts: dict[tuple[str, str], int] = {}
                for e in chosen:
                    event = "email_sent" if e.direction == "outbound" else "email_received"
                    day = datetime.fromtimestamp(e.received_at, UTC).strftime("%Y-%m-%d")
                    counts[(day, event)] = counts.get((day, event), 0) + 1
                data = [{"date": d, "event_type": t, "count": n} for (d, t), n in sorted(counts.items())]
                return {**period, "breakdown": "daily", "data": data}
            return {
                **period,
                "emails_sent": sum(1 for e in chosen if e.direction == "outbound"),
                "emails_received": sum(1 for e in chosen if e.direction == "inbound"),
                "api_calls": 0,
                "oversight_actions": 0,
            }

    def _outbound_since(self, since: float, owner: str, mailbox_id: str | None = None) -> int:
        return sum(
            1
            for e in self._emails.values()
            if e.direction == "outbound"
            and e.received_at >= since
            and self._mailboxes[e.mailbox_id].tenant_id == owner
            and mailbox_id in (None, e.mailbox_id)
        )

    def _check_limits(self, mailbox: Mailbox) -> None:
        """429 past the monthly quota, or past the mailbox's daily warm-up limit when one is set."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
        account = self.account
        if self._outbound_since(month_start, mailbox.tenant_id) >= account.monthly_email_quota:
            raise LimitReachedError("Monthly email quota exceeded")
        sent_today = self._outbound_since(day_start, mailbox.tenant_id, mailbox.id)
        if account.daily_limit is not None and sent_today >= account.daily_limit:
            raise LimitReachedError(
                "Daily sending limit reached for this mailbox (warm-up)",
                {
                    "warmup_stage": account.warmup_stage,
                    "daily_sent": sent_today,
                    "daily_limit": account.daily_limit,
                    "hint": "New mailboxes warm up: the daily limit grows over the first weeks. Try again tomorrow.",
                },
            )

    # ── internals (call with the lock held) ──────────────────────────────

    def _mailbox(self, mailbox_id: str) -> Mailbox:
        mailbox = self._mailboxes.get(mailbox_id)
        if mailbox is None or not mailbox.is_active:
            raise NotFoundError(f"mailbox {mailbox_id} not found")
        return mailbox

    def _sendable_mailbox(self, mailbox_id: str) -> Mailbox:
        mailbox = self._mailbox(mailbox_id)
        if mailbox.oversight_mode == "read_only":
            raise ForbiddenError("Mailbox is in read_only mode: it cannot send")
        return mailbox

    def _email_in(self, mailbox_id: str, email_id: str) -> Email:
        self._mailbox(mailbox_id)
        email = self._emails.get(email_id)
        if email is None or email.mailbox_id != mailbox_id:
            raise NotFoundError(f"email {email_id} not found in mailbox {mailbox_id}")
        return email

    def _replay(self, owner: str, key: str | None) -> SendOutcome | None:
        if key is None:
            return None
        record = self._idempotency.get((owner, key))
        if record is None or self._clock() - record.created_at >= IDEMPOTENCY_WINDOW_SECONDS:
            return None
        email = self._emails[record.email_id]
        answer = {"id": email.id, "status": "already_sent", "idempotent": True}
        return SendOutcome(copy.deepcopy(email), answer, replayed=True)

    def _refuse_duplicate_reply(self, mailbox_id: str, in_reply_to: str, markdown: str) -> None:
        since = self._clock() - DUPLICATE_REPLY_WINDOW_SECONDS
        for email in self._emails.values():
            if (
                email.mailbox_id == mailbox_id
                and email.in_reply_to == in_reply_to
                and email.direction == "outbound"
                and email.markdown == markdown
                and email.received_at > since
            ):
                raise DuplicateReplyError(
                    f"Duplicate reply detected: the same content was sent in reply to {in_reply_to} "
                    f"within {DUPLICATE_REPLY_WINDOW_SECONDS}s"
                )

    def _mark_sent(self, email: Email) -> None:
        email.status = "sent"
        email.delivered_at = self._clock()
        self._deliver_locally(email)

    def _deliver_locally(self, email: Email) -> None:
        """A copy of a sent email lands, unread, in every local mailbox it is addressed to."""
        recipients = {address.lower() for address in (*email.to, *email.cc, *email.bcc)}
        for mailbox in list(self._mailboxes.values()):
            if mailbox.is_active and mailbox.address.lower() in recipients:
                # gated_all holds incoming mail until a person releases it (/v1/oversight/decide)
                held = mailbox.oversight_mode == "gated_all"
                self.add_email(
                    Email(
                        id=new_id("em"),
                        mailbox_id=mailbox.id,
                        thread_id=email.thread_id,
                        sender=email.sender,
                        to=list(email.to),
                        cc=list(email.cc),
                        subject=email.subject,
                        markdown=email.markdown,
                        attachments=list(email.attachments),
                        status="pending_inbound_approval" if held else "unread",
                        direction="inbound",
                        received_at=self._clock(),
                        in_reply_to=email.in_reply_to,
                    )
                )
