"""In-memory state of the MultiMail stand-in (a development stand-in, not MultiMail).

Pure domain: mailboxes, emails, threads, API keys, idempotency records and the rate limiter.
Nothing here knows about HTTP; the server maps the ``...Error`` exceptions below to status codes.
Every public method of :class:`Store` takes one re-entrant lock, so concurrent requests see
consistent state and two concurrent sends with the same idempotency key create one email.
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
# Outbound statuses that a cancel may still stop.
CANCELLABLE: Final[frozenset[str]] = frozenset({"pending_scan", "pending_send_approval", "scheduled"})
# Outbound statuses that wait for a human decision.
AWAITING_APPROVAL: Final[frozenset[str]] = frozenset({"pending_scan", "pending_send_approval"})
IDEMPOTENCY_WINDOW_SECONDS: Final = 24 * 60 * 60
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 20
SNIPPET_CHARS: Final = 120


class StandInError(Exception):
    """Base class of the domain errors; the message is what the API puts in ``{"error": ...}``."""


class NotFoundError(StandInError):
    """Unknown mailbox, email or thread."""


class ValidationError(StandInError):
    """The request is malformed (a missing field, a wrong type, a bad query parameter)."""


class ConflictError(StandInError):
    """The email is in a state that does not allow the action (cancel after send, decide twice)."""


class ForbiddenError(StandInError):
    """The mailbox's oversight mode forbids the action (sending from a ``read_only`` mailbox)."""


def iso_utc(timestamp: float) -> str:
    """Epoch seconds as ISO 8601 in UTC with a ``Z`` suffix, to the second."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class ApiKey:
    """An API key: its secret value, the account that owns it and its scopes."""

    value: str
    owner: str
    scopes: frozenset[str]


@dataclass
class Mailbox:
    id: str
    address: str
    display_name: str
    oversight_mode: str = "gated_send"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "display_name": self.display_name,
            "oversight_mode": self.oversight_mode,
        }


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size_bytes": self.size_bytes}


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
    seq: int = 0  # insertion order, set by the store; breaks ties between equal timestamps

    @property
    def snippet(self) -> str:
        text = " ".join(self.markdown.split())
        if len(text) <= SNIPPET_CHARS:
            return text
        return text[:SNIPPET_CHARS].rstrip() + "…"

    def summary(self) -> dict[str, Any]:
        """The list view: no body."""
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "from": self.sender,
            "to": list(self.to),
            "cc": list(self.cc),
            "subject": self.subject,
            "status": self.status,
            "direction": self.direction,
            "received_at": iso_utc(self.received_at),
            "has_attachments": bool(self.attachments),
            "snippet": self.snippet,
        }

    def full(self) -> dict[str, Any]:
        """The read view: the summary plus the body and the attachments' metadata."""
        return {
            **self.summary(),
            "markdown": self.markdown,
            "attachments": [attachment.to_json() for attachment in self.attachments],
        }

    def answer(self) -> dict[str, Any]:
        """What send and reply return."""
        return {"id": self.id, "status": self.status, "thread_id": self.thread_id}


@dataclass(frozen=True)
class SendOutcome:
    """The answer to a send or reply. ``replayed`` is true when an idempotency key matched."""

    email: Email
    answer: dict[str, Any]
    replayed: bool


@dataclass(frozen=True)
class Page:
    emails: list[Email]
    next_cursor: str | None


@dataclass(frozen=True)
class _IdempotencyRecord:
    answer: dict[str, Any]
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


def _address_list(body: Mapping[str, Any], name: str, *, required: bool) -> list[str]:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is required: a non-empty list of email addresses")
        return []
    if not isinstance(value, list):
        raise ValidationError(f"'{name}' must be a list of email addresses")
    if required and not value:
        raise ValidationError(f"'{name}' must contain at least one email address")
    for item in value:
        if not _looks_like_address(item):
            raise ValidationError(f"'{name}' contains an invalid email address: {item!r}")
    return [str(item) for item in value]


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' is required and must be a string")
    return value


def _attachments(body: Mapping[str, Any]) -> list[Attachment]:
    value = body.get("attachments")
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("'attachments' must be a list of objects")
    result: list[Attachment] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str) or not item["filename"]:
            raise ValidationError("each attachment needs a 'filename' string")
        content_type = item.get("content_type", "application/octet-stream")
        if not isinstance(content_type, str):
            raise ValidationError("an attachment's 'content_type' must be a string")
        size = 0
        content = item.get("content")
        if isinstance(content, str):
            try:
                size = len(base64.b64decode(content, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValidationError(f"attachment {item['filename']!r}: 'content' is not base64") from exc
        elif isinstance(item.get("size_bytes"), int):
            size = item["size_bytes"]
        result.append(Attachment(item["filename"], content_type, size))
    return result


def _idempotency_key(body: Mapping[str, Any]) -> str | None:
    value = body.get("idempotency_key")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ValidationError("'idempotency_key' must be a string of 1 to 255 characters")
    return value


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


class Store:
    """All state of one stand-in. Thread-safe; returns copies, never live objects."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._mailboxes: dict[str, Mailbox] = {}
        self._emails: dict[str, Email] = {}
        self._keys: dict[str, ApiKey] = {}
        self._idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
        self._seq = 0
        self._bulk_counter = 0

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

    def set_oversight_mode(self, mailbox_id: str, mode: str) -> None:
        if mode not in OVERSIGHT_MODES:
            raise ValueError(f"unknown oversight mode {mode!r}; one of {sorted(OVERSIGHT_MODES)}")
        with self._lock:
            self._mailbox(mailbox_id).oversight_mode = mode

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

    # ── reading ──────────────────────────────────────────────────────────

    def emails(self, mailbox_id: str | None = None) -> list[Email]:
        """Copies of the emails of one mailbox (or all), oldest first."""
        with self._lock:
            chosen = [e for e in self._emails.values() if mailbox_id is None or e.mailbox_id == mailbox_id]
            return [copy.deepcopy(e) for e in sorted(chosen, key=_sort_key)]

    def email(self, email_id: str) -> Email:
        with self._lock:
            found = self._emails.get(email_id)
            if found is None:
                raise NotFoundError(f"email {email_id} not found")
            return copy.deepcopy(found)

    def list_emails(
        self,
        mailbox_id: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        direction: str | None = None,
        status: str | None = None,
    ) -> Page:
        """One page, newest first. The cursor names the last email of the previous page."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"'limit' must be between 1 and {MAX_PAGE_SIZE}")
        if direction is not None and direction not in ("inbound", "outbound"):
            raise ValidationError("'direction' must be 'inbound' or 'outbound'")
        after = _decode_cursor(cursor) if cursor else None
        with self._lock:
            self._mailbox(mailbox_id)
            chosen = sorted(
                (
                    e
                    for e in self._emails.values()
                    if e.mailbox_id == mailbox_id
                    and (direction is None or e.direction == direction)
                    and (status is None or e.status == status)
                    and (after is None or _sort_key(e) < after)
                ),
                key=_sort_key,
                reverse=True,
            )
            page = [copy.deepcopy(e) for e in chosen[:limit]]
            next_cursor = _encode_cursor(page[-1]) if len(chosen) > limit else None
            return Page(page, next_cursor)

    def read_email(self, mailbox_id: str, email_id: str) -> Email:
        """The full email. Reading an ``unread`` inbound email marks it ``read``."""
        with self._lock:
            email = self._email_in(mailbox_id, email_id)
            if email.direction == "inbound" and email.status == "unread":
                email.status = "read"
            return copy.deepcopy(email)

    def thread(self, mailbox_id: str, thread_id: str) -> list[Email]:
        """The mailbox's emails of one thread, oldest first."""
        with self._lock:
            self._mailbox(mailbox_id)
            found = [e for e in self._emails.values() if e.mailbox_id == mailbox_id and e.thread_id == thread_id]
            if not found:
                raise NotFoundError(f"thread {thread_id} not found")
            return [copy.deepcopy(e) for e in sorted(found, key=_sort_key)]

    def pending(self) -> list[Email]:
        """Outbound emails of every mailbox that wait for a human decision, oldest first."""
        with self._lock:
            found = [e for e in self._emails.values() if e.status in AWAITING_APPROVAL]
            return [copy.deepcopy(e) for e in sorted(found, key=_sort_key)]

    # ── writing ──────────────────────────────────────────────────────────

    def send(self, owner: str, mailbox_id: str, body: Mapping[str, Any]) -> SendOutcome:
        """``POST /v1/mailboxes/{mailbox_id}/send``. ``owner`` scopes the idempotency keys."""
        with self._lock:
            mailbox = self._sendable_mailbox(mailbox_id)
            to = _address_list(body, "to", required=True)
            subject = _string(body, "subject")
            return self._queue_outgoing(owner, mailbox, body, to=to, subject=subject, thread_id=new_id("th"))

    def reply(self, owner: str, mailbox_id: str, email_id: str, body: Mapping[str, Any]) -> SendOutcome:
        """``POST /v1/mailboxes/{mailbox_id}/reply/{email_id}``: to the original's sender, same thread."""
        with self._lock:
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
        """What send and reply share: the rest of the body, the idempotency replay, the queued email."""
        markdown = _string(body, "markdown")
        cc = _address_list(body, "cc", required=False)
        bcc = _address_list(body, "bcc", required=False)
        attachments = _attachments(body)
        key = _idempotency_key(body)
        replay = self._replay(owner, key)
        if replay is not None:
            return replay
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
            status="pending_send_approval",
            direction="outbound",
            received_at=self._clock(),
            in_reply_to=in_reply_to,
            idempotency_key=key,
        )
        return self._accept(owner, mailbox, email)

    def cancel(self, mailbox_id: str, email_id: str) -> Email:
        """Stop a queued email. Cancelling twice is fine; a sent or decided email is a conflict."""
        with self._lock:
            email = self._email_in(mailbox_id, email_id)
            if email.status == "cancelled":
                return copy.deepcopy(email)
            if email.direction != "outbound" or email.status not in CANCELLABLE:
                raise ConflictError(f"email {email_id} is {email.status} and can no longer be cancelled")
            email.status = "cancelled"
            return copy.deepcopy(email)

    def decide(self, email_id: object, action: object, reason: object = None) -> Email:
        """The human's decision on a pending email: ``approve`` sends it, ``reject`` stops it."""
        if not isinstance(email_id, str) or not email_id:
            raise ValidationError("'email_id' is required and must be a string")
        if action not in ("approve", "reject"):
            raise ValidationError("'action' must be 'approve' or 'reject'")
        if reason is not None and not isinstance(reason, str):
            raise ValidationError("'reason' must be a string")
        with self._lock:
            email = self._emails.get(email_id)
            if email is None:
                raise NotFoundError(f"email {email_id} not found")
            if email.status not in AWAITING_APPROVAL:
                raise ConflictError(f"email {email_id} is not pending approval (status: {email.status})")
            if action == "approve":
                email.status = "sent"
                self._deliver_locally(email)
            else:
                email.status = "rejected"
                email.rejection_reason = reason
            return copy.deepcopy(email)

    # ── internals (call with the lock held) ──────────────────────────────

    def _mailbox(self, mailbox_id: str) -> Mailbox:
        mailbox = self._mailboxes.get(mailbox_id)
        if mailbox is None:
            raise NotFoundError(f"mailbox {mailbox_id} not found")
        return mailbox

    def _sendable_mailbox(self, mailbox_id: str) -> Mailbox:
        mailbox = self._mailbox(mailbox_id)
        if mailbox.oversight_mode == "read_only":
            raise ForbiddenError("mailbox is read_only")
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
        email = self._emails[record.answer["id"]]
        return SendOutcome(copy.deepcopy(email), dict(record.answer), replayed=True)

    def _accept(self, owner: str, mailbox: Mailbox, email: Email) -> SendOutcome:
        # gated_send and gated_all wait for a human; monitored and autonomous send at once.
        if mailbox.oversight_mode in ("monitored", "autonomous"):
            email.status = "sent"
        stored = self.add_email(email)
        if email.status == "sent":
            self._deliver_locally(self._emails[stored.id])
        answer = stored.answer()
        if email.idempotency_key is not None:
            self._idempotency[(owner, email.idempotency_key)] = _IdempotencyRecord(
                answer=dict(answer), created_at=self._clock()
            )
        return SendOutcome(stored, answer, replayed=False)

    def _deliver_locally(self, email: Email) -> None:
        """A copy of a sent email lands, unread, in every local mailbox it is addressed to."""
        recipients = {address.lower() for address in (*email.to, *email.cc, *email.bcc)}
        for mailbox in list(self._mailboxes.values()):
            if mailbox.address.lower() in recipients:
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
                        status="unread",
                        direction="inbound",
                        received_at=self._clock(),
                        in_reply_to=email.in_reply_to,
                    )
                )
