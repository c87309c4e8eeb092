"""Parsing the model's strings at the edge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from email_actions.models import ReplyRequest, SendEmailRequest


def send(**fields: str) -> SendEmailRequest:
    return SendEmailRequest.model_validate({"to": "ana@example.com", "subject": "Hi", "body": "Hello", **fields})


@pytest.mark.parametrize(
    ("written", "parsed"),
    [
        ('["ana@example.com", "li@example.org"]', ["ana@example.com", "li@example.org"]),
        ("ana@example.com, li@example.org", ["ana@example.com", "li@example.org"]),
        ("ana@example.com; li@example.org", ["ana@example.com", "li@example.org"]),
        (" ana@example.com ", ["ana@example.com"]),
        ("Ana Lima <ana@example.com>", ["ana@example.com"]),
        ("josé@exämple.com", ["josé@exämple.com"]),
    ],
)
def test_address_lists_come_in_the_forms_models_write(written: str, parsed: list[str]) -> None:
    assert send(to=written).to == parsed


@pytest.mark.parametrize(
    "written",
    [
        "bob@",
        "@example.com",
        "bob@example",
        "bob example.com",
        "a@b@example.com",
        "bob@exa mple.com",
        "bob@example.com\r\nBcc: x@example.com",
        "bob@example.com\x00",
        '["ana@example.com"',
        "[]",
        "",
    ],
)
def test_bad_addresses_are_refused(written: str) -> None:
    with pytest.raises(ValidationError) as raised:
        send(to=written)
    assert raised.value.errors()[0]["loc"][0] == "to"


def test_header_fields_refuse_line_breaks_but_bodies_keep_them() -> None:
    with pytest.raises(ValidationError):
        send(subject="Hi\nBcc: all@example.com")
    assert send(body="line one\nline two").body == "line one\nline two"
    with pytest.raises(ValidationError):
        send(body="nul \x00 inside")


def test_recipient_limit_counts_to_cc_and_bcc_together() -> None:
    addresses = [f"user{i}@example.com" for i in range(25)]
    assert send(to=",".join(addresses), cc=",".join(addresses)).recipient_count() == 50
    with pytest.raises(ValidationError, match="at most 50 recipients"):
        send(to=",".join(addresses), cc=",".join(addresses), bcc="one.more@example.com")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        send(attachments="report.pdf")
    assert raised.value.errors()[0]["type"] == "extra_forbidden"


def test_reply_requires_a_safe_email_id() -> None:
    assert ReplyRequest.model_validate({"email_id": "em_1", "body": "Thanks"}).recipient_count() == 1
    with pytest.raises(ValidationError):
        ReplyRequest.model_validate({"email_id": "../../oversight/decide", "body": "Thanks"})
