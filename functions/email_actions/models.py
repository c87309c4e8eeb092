"""Typed requests at the edge. Bedrock sends every value as a string; these models turn the
model's strings into checked values, so nothing malformed goes past them to MultiMail.

The descriptions are part of the product: they become the OpenAPI schema the agent reads.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_RECIPIENTS = 50
MAX_SUBJECT_CHARS = 400
MAX_BODY_CHARS = 50_000

# Header fields must never carry line breaks or NUL: that is how header injection works.
_HEADER_BREAKERS = re.compile(r"[\r\n\x00]")
# A practical address check: one @, no spaces or specials, a dotted domain. Unicode letters are
# allowed on both sides (SMTPUTF8); MultiMail makes the final call on deliverability.
_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\\\"]{1,64}@(?=.{1,253}$)([^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$")
_NAMED_ADDRESS = re.compile(r"^[^<>]*<([^<>]+)>$")
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


def no_header_breaks(value: str) -> str:
    if _HEADER_BREAKERS.search(value):
        raise ValueError("must not contain line breaks or NUL characters")
    return value


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _email_address(value: str) -> str:
    no_header_breaks(value)
    candidate = value.strip()
    named = _NAMED_ADDRESS.match(candidate)  # "Bob <bob@example.com>" is how people write it
    if named:
        candidate = named.group(1).strip()
    if len(candidate) > 254 or not _ADDRESS.match(candidate):
        shown = value if len(value) <= 80 else value[:77] + "..."  # a huge value must not bloat the answer
        raise ValueError(f"{shown!r} is not an email address")
    return candidate


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
    return [part for part in re.split(r"[,;]", text) if part.strip()]


EmailAddress = Annotated[str, AfterValidator(_email_address)]
AddressList = Annotated[list[EmailAddress], BeforeValidator(_address_list)]
HeaderText = Annotated[str, AfterValidator(no_header_breaks)]
BodyText = Annotated[str, AfterValidator(no_nul)]


class _Request(BaseModel):
    # Unknown fields are refused, not dropped: a model that invents `attachments` must learn
    # that nothing was attached.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    def recipient_count(self) -> int:
        return 0


class SendEmailRequest(_Request):
    to: AddressList = Field(
        min_length=1,
        description="Recipients: one or more email addresses, as a JSON array "
        '(["ana@example.com", "li@example.org"]) or separated by commas.',
    )
    cc: AddressList | None = Field(default=None, description="Optional carbon-copy recipients, same format as `to`.")
    bcc: AddressList | None = Field(default=None, description="Optional blind-copy recipients, same format as `to`.")
    subject: HeaderText = Field(
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

    @model_validator(mode="after")
    def _recipients_within_limit(self) -> SendEmailRequest:
        if self.recipient_count() > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together")
        return self

    def recipient_count(self) -> int:
        return len(self.to) + len(self.cc or ()) + len(self.bcc or ())


class ReplyRequest(_Request):
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
        default=None, description="Optional extra recipients to copy, as a JSON array or separated by commas."
    )
    mailbox_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The mailbox that received the original. Leave it out to use the default mailbox.",
    )

    @model_validator(mode="after")
    def _recipients_within_limit(self) -> ReplyRequest:
        if self.recipient_count() > MAX_RECIPIENTS - 1:
            raise ValueError(f"at most {MAX_RECIPIENTS - 1} addresses in cc")
        return self

    def recipient_count(self) -> int:
        return 1 + len(self.cc or ())
