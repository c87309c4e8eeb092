"""Parsing the model's strings at the edge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from email_actions.models import GetAttachmentRequest, ReplyRequest, SendEmailRequest


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


# -- issue 12: subjects, bodies, spoofed and look-alike recipients, recipient limits by field --------


def _is_surrogate(character: str) -> bool:
    return 0xD800 <= ord(character) <= 0xDFFF


SUBJECT_BREAKERS = {
    "CR": "\r",
    "LF": "\n",
    "NUL": "\x00",
    "TAB": "\t",
    "VT": "\x0b",
    "FF": "\x0c",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "C1 CSI": "\x9b",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
    "RLO": "\u202e",
    "LRE": "\u202a",
    "PDF": "\u202c",
    "RLI": "\u2067",
    "PDI": "\u2069",
    "lone surrogate": "\ud800",
}


@pytest.mark.parametrize("character", SUBJECT_BREAKERS.values(), ids=SUBJECT_BREAKERS.keys())
def test_subjects_refuse_every_line_break_and_control_character(character: str) -> None:
    # GIVEN a subject with a line break, control or bidi override between visible words
    # WHEN it is parsed THEN it is refused, on the subject, naming the character's code point
    with pytest.raises(ValidationError) as raised:
        send(subject=f"Invoice{character}Bcc: all@example.com")
    error = raised.value.errors()[0]
    assert error["loc"] == ("subject",)
    if not _is_surrogate(character):  # pydantic refuses those itself, as not a valid string
        assert f"U+{ord(character):04X}" in error["msg"]


@pytest.mark.parametrize(
    "subject",
    [
        "Family trip 👨\u200d👩\u200d👧\u200d👦 photos",  # emoji joined by ZWJ
        "Merci 🙏🏽 pour la réunion",
        "Встреча в четверг",
        "会议纪要 / 議事録 / 회의록",
        "شكرا لك على الرسالة",  # right-to-left text needs no override
        "Re: \u05e2\u05d3\u05db\u05d5\u05df \u05d7\u05e9\u05d5\u05d1",  # Hebrew (a direction mark only in a body)
        "नमस्ते दुनिया",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian, spelled with a ZWNJ
    ],
)
def test_subjects_keep_legitimate_text_in_any_script(subject: str) -> None:
    assert send(subject=subject).subject == subject


def test_bodies_keep_newlines_and_tabs_and_refuse_other_controls() -> None:
    # GIVEN a body with CRLF, LF and tab (ordinary text) THEN it is kept as written
    text = "Hello,\r\n\tline two\nline three 👋"
    assert send(body=text).body == text
    # AND a body with NUL, ESC (terminal escapes), other C0/C1 controls or a lone surrogate is refused
    for character in ("\x00", "\x1b", "\x07", "\x0b", "\x0c", "\x7f", "\x85", "\ud83d"):
        with pytest.raises(ValidationError) as raised:
            send(body=f"Hello {character}[31m there")
        assert raised.value.errors()[0]["loc"] == ("body",)
        if not _is_surrogate(character):
            assert f"U+{ord(character):04X}" in raised.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "written",
    [
        "ceo@company.com <attacker@evil.com>",
        '"ceo@company.com" <attacker@evil.com>',
        "CEO (ceo@company.com) <attacker@evil.com>",
        "Reply to ceo@company.com only <attacker@evil.com>",
        "ceo@company <attacker@evil.com>",
    ],
)
def test_a_display_name_holding_another_address_is_refused(written: str) -> None:
    # GIVEN a recipient whose display name shows one address while the email would go to another
    # WHEN it is parsed THEN it is refused on that field, and the message names the real address
    for field in ("to", "cc", "bcc"):
        with pytest.raises(ValidationError) as raised:
            send(**{field: written})
        error = raised.value.errors()[0]
        assert error["loc"][0] == field
        assert "attacker@evil.com" in error["msg"]


@pytest.mark.parametrize(
    "written",
    ["ana@example.com <ana@example.com>", '"Ana@Example.com" <ana@example.com>', "Ana Lima <ana@example.com>"],
)
def test_a_display_name_that_repeats_the_same_address_is_accepted(written: str) -> None:
    assert send(to=written).to == ["ana@example.com"]


INVISIBLES = {
    "ZERO WIDTH SPACE": "\u200b",
    "ZERO WIDTH NON-JOINER": "\u200c",
    "ZERO WIDTH JOINER": "\u200d",
    "WORD JOINER": "\u2060",
    "BOM": "\ufeff",
    "SOFT HYPHEN": "\u00ad",
    "LRM": "\u200e",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "ARABIC LETTER MARK": "\u061c",
    "TAG SPACE": "\U000e0020",
    "private use": "\ue000",
    "ESC": "\x1b",
    "lone surrogate": "\udc00",
}


@pytest.mark.parametrize("character", INVISIBLES.values(), ids=INVISIBLES.keys())
@pytest.mark.parametrize("where", ["local part", "domain", "display name"])
def test_addresses_with_invisible_or_direction_characters_are_refused(character: str, where: str) -> None:
    written = {
        "local part": f"an{character}a@example.com",
        "domain": f"ana@exam{character}ple.com",
        "display name": f"Ana{character} Lima <ana@example.com>",
    }[where]
    with pytest.raises(ValidationError) as raised:
        send(to=written)
    error = raised.value.errors()[0]
    assert error["loc"][0] == "to"
    if not _is_surrogate(character):
        assert f"U+{ord(character):04X}" in error["msg"]


@pytest.mark.parametrize(
    "address",
    [
        "billing@p\u0430ypal.com",  # Cyrillic U+0430 in a Latin name
        "ceo@xn--pypal-4ve.com",  # the same, written in punycode
        "ana@g\u03bfogle.com",  # Greek omicron
        "ana@ex\u0430mple.\u0440\u0444",  # a mixed label under a Cyrillic TLD
        "ana@\uff50aypal.com",  # FULLWIDTH p: folds to Latin under NFKC
        "ana@\U0001d429aypal.com",  # MATHEMATICAL BOLD p
    ],
)
def test_mixed_script_domains_are_flagged_as_lookalikes(address: str) -> None:
    # GIVEN a recipient whose domain mixes scripts (or compatibility characters) in one label
    request = send(to=f"ana@example.com, {address}", cc="li@example.org")
    # THEN it is accepted (MultiMail may deliver it) but reported as a look-alike, and only it
    assert request.lookalike_addresses() == [address]


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com",
        "josé@exämple.com",
        "иван@пример.рф",
        "用户@例子.广告",
        "user@ひらがなカタカナ漢字.jp",  # Japanese mixes Han, Hiragana and Katakana legitimately
        "user@コーヒー.jp",  # with the prolonged sound mark
        "user@한국어漢字.kr",
        "user@abc例子.com",  # Latin with Han is allowed (UTS 39, highly restrictive)
        "a@xn--bcher-kva.example",
        "a@123-example.com",
    ],
)
def test_single_script_and_usual_cjk_domains_are_not_flagged(address: str) -> None:
    assert send(to=address).lookalike_addresses() == []


def test_reply_flags_lookalike_cc_addresses() -> None:
    request = ReplyRequest.model_validate({"email_id": "em_1", "body": "Thanks", "cc": "ana@p\u0430ypal.com"})
    assert request.lookalike_addresses() == ["ana@p\u0430ypal.com"]


def test_too_many_recipients_names_the_lists_that_hold_them() -> None:
    # GIVEN 51 recipients spread over to and bcc (cc left out)
    addresses = [f"user{i}@example.com" for i in range(51)]
    # WHEN the request is parsed THEN the error carries the fields that apply, to and bcc
    with pytest.raises(ValidationError) as raised:
        send(to=",".join(addresses[:30]), bcc=",".join(addresses[30:]))
    error = raised.value.errors()[0]
    assert error["ctx"]["fields"] == ["to", "bcc"]
    assert "51" in error["msg"]
    # AND a reply names cc
    with pytest.raises(ValidationError) as raised:
        ReplyRequest.model_validate({"email_id": "em_1", "body": "Thanks", "cc": ",".join(addresses)})
    assert raised.value.errors()[0]["ctx"]["fields"] == ["cc"]


def test_a_huge_address_is_refused_without_being_echoed_whole() -> None:
    with pytest.raises(ValidationError) as raised:
        send(to="a" * 1_000_000 + "@example.com")
    assert len(raised.value.errors()[0]["msg"]) < 200


@pytest.mark.parametrize(
    "filename", ["INV-2025-0412 lines.csv", "résumé.txt", "..notes", "a..b.csv", "%2e%2e", "x" * 255, "данные.json"]
)
def test_an_attachment_name_is_taken_as_the_listing_gives_it(filename: str) -> None:
    assert GetAttachmentRequest(email_id="em_1", filename=filename).filename == filename


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("../../cancel", "'/'"),
        ("a\\b", "'/'"),
        ("..", "dots alone"),
        (".", "dots alone"),
        ("a\nb", "line breaks"),
        ("a\x00b", "control characters"),
        ("a\u200bb.txt", "invisible"),
        ("\u202etxt.exe", "control characters"),
        ("n" * 256, "255"),
        ("", "at least 1"),
    ],
)
def test_an_attachment_name_that_could_change_the_path_is_refused(filename: str, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        GetAttachmentRequest(email_id="em_1", filename=filename)
    assert reason in str(raised.value)
