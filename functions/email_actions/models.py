"""Typed requests at the edge. Bedrock sends every value as a string; these models turn the
model's strings into checked values, so nothing malformed goes past them to MultiMail.

The descriptions are part of the product: they become the OpenAPI schema the agent reads.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from email_actions import addresses, invisible

MAX_RECIPIENTS = 50
MAX_SUBJECT_CHARS = 400
MAX_BODY_CHARS = 50_000
QUOTE_CHARS = 80  # how much of a bad value an error message may quote

# A subject is one header line. Refused: every control character (category Cc: CR, LF, NUL, TAB,
# VT, FF, ESC, DEL and the C1 range with NEL), the Unicode line and paragraph separators, the bidi
# embedding, override and isolate controls (they reorder what the approver and recipient see),
# and lone surrogates (not encodable as UTF-8). Invisible characters are refused in subjects and
# bodies by the rule of invisible.py (joiners stay where emoji and joining scripts need them).
SUBJECT_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# A body is prose: tab, LF and CR stay; other C0 and C1 controls (terminal escapes, NUL, form
# feed, NEL) have no place in an email a model writes, and lone surrogates cannot be encoded.
BODY_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"

# The values MultiMail's list endpoint accepts for `status` (its spec's enum), with what each means.
# `pending_scan` and `sent` are not among them: MultiMail refuses them.
LIST_STATUSES: dict[str, str] = {
    "unread": "received, not yet read",
    "read": "received and read",
    "archived": "archived",
    "deleted": "deleted",
    "pending_send_approval": "outgoing, waiting for a person to approve it",
    "pending_inbound_approval": "received, held until a person approves it",
    "rejected": "outgoing, rejected by the person who reviews mail",
    "cancelled": "outgoing, withdrawn before approval",
    "send_failed": "outgoing, approved but delivery failed",
    "scheduled": "outgoing, scheduled for later delivery",
    "spam_flagged": "received, flagged as possible spam",
    "spam_quarantined": "received, quarantined as spam",
}


def quoted(value: str, limit: int = QUOTE_CHARS) -> str:
    """A value as an error message may show it: in quotes, and cut, so a huge value cannot bloat an answer."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def _code_point(character: str) -> str:
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" ({name})" if name else "")


def _refusing(characters: re.Pattern[str], rule: str) -> Callable[[str], str]:
    """A validator that refuses the first of `characters` found, naming it in `rule` ({found})."""

    def check(value: str) -> str:
        found = characters.search(value)
        if found:
            raise ValueError(rule.format(found=_code_point(found.group())))
        return value

    return check


single_line = _refusing(
    SUBJECT_REFUSED,
    "must not contain line breaks or control characters, and it contains {found}: write it as one line of visible text",
)
plain_text = _refusing(
    BODY_REFUSED, "contains the control character {found}; of the controls only tab and line breaks are allowed"
)


def _visible(*, body: bool) -> Callable[[str], str]:
    """A validator that refuses characters the approver could not see (invisible.py holds the rule)."""

    def check(value: str) -> str:
        found = invisible.first_hidden(value, body=body)
        if found is not None:
            raise ValueError(
                f"contains the invisible character {invisible.describe(found)}, which the person who approves the "
                "email would not see: write it without invisible characters"
            )
        return value

    return check


def _email_address(value: str) -> str:
    return addresses.check_address(value)  # syntax, hidden characters and spoofed display names


def _address_list(value: Any) -> Any:
    """Accept what a model writes: a JSON array, one address, or addresses separated by commas."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("looks like a JSON array but is not valid JSON") from None
    return addresses.split_list(text)


# Recipients whose domain is a look-alike (mixed scripts, or all of it confusable with ASCII).
is_lookalike = addresses.is_lookalike


# -- scheduling ---------------------------------------------------------------------------------

SEND_AT_MAX_CHARS = 40  # "2026-03-15T14:00:00.123456Z" is 27; longer is not a time
MAX_SCHEDULE_AHEAD = timedelta(days=365)  # ours: a time further out is far more likely a mistyped year
# MultiMail's form (spec SendEmailRequest.send_at): ISO 8601 in UTC, ending with Z. Seconds and a
# fraction are optional here; the value is passed on in one canonical form, to the second.
_SEND_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z$")
SEND_AT_DESCRIPTION = (
    "Optional: schedule delivery for a later time instead of sending as soon as it is approved. A UTC time in "
    "ISO 8601 ending with Z, e.g. 2026-03-15T14:00:00Z; it must be in the future and within a year. Convert "
    "the user's local time to UTC first. Leave it out to send normally."
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _send_at(value: str) -> str:
    if len(value) > SEND_AT_MAX_CHARS:  # checked first: pydantic applies max_length after this validator
        raise ValueError(f"must be at most {SEND_AT_MAX_CHARS} characters, like 2026-03-15T14:00:00Z")
    if not _SEND_AT.match(value):
        raise ValueError(
            f"{quoted(value)} is not a UTC time in ISO 8601 ending with Z: write it like 2026-03-15T14:00:00Z"
        )
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{quoted(value)} is not a real date and time") from None
    now = _utc_now()
    if instant <= now:
        raise ValueError(
            f"{quoted(value)} is not in the future (it is now {now:%Y-%m-%dT%H:%M:%SZ}): leave send_at out to send "
            "now, or give a later time"
        )
    if instant > now + MAX_SCHEDULE_AHEAD:
        raise ValueError(f"{quoted(value)} is more than a year ahead: check the year with the user")
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


SendAt = Annotated[str, AfterValidator(_send_at)]
EmailAddress = Annotated[str, AfterValidator(_email_address)]
AddressList = Annotated[list[EmailAddress], BeforeValidator(_address_list)]
SubjectText = Annotated[str, AfterValidator(single_line), AfterValidator(_visible(body=False))]
BodyText = Annotated[str, AfterValidator(plain_text), AfterValidator(_visible(body=True))]


class _Request(BaseModel):
    # Unknown fields are refused, not dropped: a model that invents `attachments` must learn
    # that nothing was attached.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    def address_lists(self) -> dict[str, list[str]]:
        """The request's recipient lists that are given, by field name."""
        return {}

    def recipient_count(self) -> int:
        return sum(len(addresses) for addresses in self.address_lists().values())

    def lookalike_addresses(self) -> list[str]:
        """Recipients whose domain mixes scripts: accepted, but the answer should warn the user."""
        return [a for addresses in self.address_lists().values() for a in addresses if is_lookalike(a)]

    def _check_recipient_limit(self, count: int, limit: int, described: str) -> None:
        if count > limit:
            # The error carries the fields that hold recipients, so the answer can name them.
            raise PydanticCustomError(
                "too_many_recipients",
                "at most {limit} {described}; there are {count}",
                {"limit": limit, "described": described, "count": count, "fields": list(self.address_lists())},
            )


class SendEmailRequest(_Request):
    """The email to send."""

    to: AddressList = Field(
        min_length=1,
        description='Recipients: a list of one or more email addresses, such as ["ana@example.com", "li@example.org"].',
    )
    cc: AddressList | None = Field(default=None, description="Optional carbon-copy recipients, same format as `to`.")
    bcc: AddressList | None = Field(default=None, description="Optional blind-copy recipients, same format as `to`.")
    subject: SubjectText = Field(
        min_length=1, max_length=MAX_SUBJECT_CHARS, description="The subject line, a single line of text."
    )
    body: BodyText = Field(
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description="The message itself, in Markdown or plain text. Write the full text the recipient should read.",
    )
    mailbox_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The mailbox to send from. Leave it out to use the default mailbox.",
    )
    send_at: SendAt | None = Field(default=None, max_length=SEND_AT_MAX_CHARS, description=SEND_AT_DESCRIPTION)

    @model_validator(mode="after")
    def _recipients_within_limit(self) -> SendEmailRequest:
        self._check_recipient_limit(self.recipient_count(), MAX_RECIPIENTS, "recipients in to, cc and bcc together")
        return self

    def address_lists(self) -> dict[str, list[str]]:
        given = {"to": self.to, "cc": self.cc, "bcc": self.bcc}
        return {field: list(addresses) for field, addresses in given.items() if addresses}


class ReplyRequest(_Request):
    """The reply to send."""

    email_id: str = Field(
        pattern=ID_PATTERN,
        description="The id of the email to answer, as returned by listInbox or readEmail.",
    )
    body: BodyText = Field(
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description="The reply, in Markdown or plain text. It goes to the sender of the original email.",
    )
    cc: AddressList | None = Field(
        default=None,
        description='Optional extra recipients to copy: a list of email addresses, such as ["ana@example.com"].',
    )
    bcc: AddressList | None = Field(
        default=None,
        description="Optional blind-copy recipients, same format as `cc`: they get the reply, and the other "
        "recipients do not see them.",
    )
    mailbox_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The mailbox that received the original. Leave it out to use the default mailbox.",
    )

    @model_validator(mode="after")
    def _recipients_within_limit(self) -> ReplyRequest:
        self._check_recipient_limit(self.recipient_count() - 1, MAX_RECIPIENTS - 1, "addresses in cc and bcc together")
        return self

    def address_lists(self) -> dict[str, list[str]]:
        given = {"cc": self.cc, "bcc": self.bcc}
        return {field: list(addresses) for field, addresses in given.items() if addresses}

    def recipient_count(self) -> int:
        return 1 + len(self.cc or ()) + len(self.bcc or ())  # the original's sender, and the copies


# -- the reading and withdrawing actions: every argument of an action is a field of its request ----


def _not_a_boolean(value: Any) -> Any:
    # pydantic's lax mode reads true as 1: a model that writes `limit: true` has not given a number.
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean)]

_LIST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z)?$")


def _list_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00") if "T" in value else value + "T00:00:00+00:00")


def _list_date(value: str) -> str:
    """A search bound: a UTC date, or a UTC time ending in Z, that is a real one."""
    if len(value) > 40 or not _LIST_DATE.match(value):
        raise ValueError("must be a UTC date like 2026-03-01 or a UTC time like 2026-03-01T09:00:00Z")
    try:
        _list_instant(value)
    except ValueError:
        raise ValueError(f"{quoted(value)} is not a real date") from None
    return value


ListDate = Annotated[str, AfterValidator(_list_date)]

MAILBOX_DESCRIPTION = "The mailbox to use. Leave it out to use the default mailbox."
# Bedrock does not read `enum`, so the inbox filter is a pattern over MultiMail's own list, described in words.
STATUS_PATTERN = "^(" + "|".join(LIST_STATUSES) + ")$"
STATUS_CHOICES = "; ".join(f"{name} ({meaning})" for name, meaning in LIST_STATUSES.items())


class ListInboxRequest(_Request):
    """Which emails to list."""

    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)
    # MultiMail allows 1 to 100; 50 keeps a page of summaries well inside Bedrock's 25 KB answer.
    limit: WholeNumber = Field(default=10, ge=1, le=50, description="How many emails to return, 1 to 50. Default 10.")
    status: str | None = Field(
        default=None,
        pattern=STATUS_PATTERN,
        description=f"Only emails with this status, exactly one of: {STATUS_CHOICES}. Leave it out for all. "
        "A just-sent email is first in its scan and has no filter value: use listPendingEmails for it.",
    )
    direction: str = Field(
        default="inbound",
        pattern=r"^(inbound|outbound|all)$",
        description="'inbound' for received emails (the default), 'outbound' for sent ones, or 'all'.",
    )
    cursor: str | None = Field(
        default=None, max_length=512, description="The next_cursor of the previous answer, to get the next page."
    )
    sender: SubjectText | None = Field(
        default=None,
        max_length=254,
        description="Only emails whose sender contains this text (part of an address or a name), e.g. 'acme.com'.",
    )
    subject_contains: SubjectText | None = Field(
        default=None, max_length=200, description="Only emails whose subject contains this text, e.g. 'invoice'."
    )
    date_after: ListDate | None = Field(
        default=None,
        description="Only emails received after this UTC date or time, like 2026-03-01 or 2026-03-01T09:00:00Z.",
    )
    date_before: ListDate | None = Field(
        default=None, description="Only emails received before this UTC date or time, same format as date_after."
    )
    has_attachments: bool | None = Field(
        default=None, description="true for only emails with attachments, false for only those without."
    )
    since_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Only emails newer than this email id (the newest id of an earlier answer): what arrived since.",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> ListInboxRequest:
        if self.date_after and self.date_before and _list_instant(self.date_after) >= _list_instant(self.date_before):
            raise PydanticCustomError(
                "dates_out_of_order",
                "date_after must be earlier than date_before",
                {"fields": ["date_after", "date_before"]},
            )
        return self

    def filters(self) -> dict[str, str]:
        """The search filters given, as MultiMail's query parameters."""
        given: dict[str, str | None] = {
            "sender": self.sender,
            "subject_contains": self.subject_contains,
            "date_after": self.date_after,
            "date_before": self.date_before,
            "has_attachments": None if self.has_attachments is None else str(self.has_attachments).lower(),
            "since_id": self.since_id,
        }
        return {name: value for name, value in given.items() if value}


class ReadEmailRequest(_Request):
    """Which email to read, and from where in its body."""

    email_id: str = Field(pattern=ID_PATTERN, description="The email's id, from listInbox.")
    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)
    body_offset: WholeNumber = Field(
        default=0,
        ge=0,
        le=10_000_000,
        description="Where to start reading a long body; the answer says when to use it.",
    )


class ListPendingRequest(_Request):
    """Which queued emails to list."""

    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)
    limit: WholeNumber = Field(default=20, ge=1, le=50, description="How many emails to return, 1 to 50. Default 20.")


class CancelEmailRequest(_Request):
    """The queued email to withdraw."""

    email_id: str = Field(pattern=ID_PATTERN, description="The id of the queued email, from listPendingEmails.")
    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)


class GetMailboxStatusRequest(_Request):
    """Which mailbox's situation to report."""

    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)


class GetThreadRequest(_Request):
    """Which conversation to read."""

    thread_id: str = Field(pattern=ID_PATTERN, description="The conversation's thread_id, from readEmail or listInbox.")
    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)


MAX_WAIT_SECONDS = 25  # a Lambda call lasts 30 s at most (template.yaml); the call's own deadline caps it further


class WaitForEmailRequest(_Request):
    """How long to wait for new mail, and after which email."""

    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)
    timeout_seconds: WholeNumber = Field(
        default=20,
        ge=1,
        le=MAX_WAIT_SECONDS,
        description=f"How long to wait, 1 to {MAX_WAIT_SECONDS} seconds. Default 20. The wait also ends earlier when "
        "the call's own time runs out.",
    )
    since_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Wait for emails newer than this email id (the newest you saw). Leave it out to wait for "
        "anything newer than the newest received email now.",
    )
    sender: SubjectText | None = Field(
        default=None, max_length=254, description="Only wait for emails whose sender contains this text."
    )
    subject_contains: SubjectText | None = Field(
        default=None, max_length=200, description="Only wait for emails whose subject contains this text."
    )


MAX_FILENAME_CHARS = 255  # what common file systems allow for one name; longer is not a file name


def _file_name(value: str) -> str:
    """An attachment's name that can only ever be one path segment of MultiMail's download path."""
    if len(value) > MAX_FILENAME_CHARS:  # checked first: pydantic applies max_length after this validator
        raise ValueError(f"must be at most {MAX_FILENAME_CHARS} characters")
    if "/" in value or "\\" in value:
        raise ValueError("must be one file name without '/' or '\\': use the name exactly as readEmail lists it")
    if not value.strip("."):
        raise ValueError("must be a file name, not '.' or '..' or dots alone")
    return value


# Line breaks, controls and bidi controls (as in a subject), hidden characters, then the name's own rules.
FileName = Annotated[str, AfterValidator(single_line), AfterValidator(_visible(body=False)), AfterValidator(_file_name)]


class GetAttachmentRequest(_Request):
    """Which attachment of which email to read."""

    email_id: str = Field(pattern=ID_PATTERN, description="The id of the email that carries it, from listInbox.")
    filename: FileName = Field(
        min_length=1,
        max_length=MAX_FILENAME_CHARS,
        description="The attachment's name exactly as readEmail lists it under untrusted.attachments, "
        "e.g. 'invoice-may.csv'.",
    )
    mailbox_id: str | None = Field(default=None, pattern=ID_PATTERN, description=MAILBOX_DESCRIPTION)
    text_offset: WholeNumber = Field(
        default=0,
        ge=0,
        le=10_000_000,
        description="Where to start reading a long text; the answer says when to use it.",
    )
