"""Hidden characters never reach the approver (issue 20, item 4).

The person who approves an email must see every character that will be sent. Every character
invisible.py lists is refused in a subject and a body between ordinary letters, naming its code
point, and nothing reaches MultiMail; the few uses the rule allows (emoji sequences, the
recommended tag flags, joiners inside joining scripts, direction marks in a body) are sent
exactly as written. docs/hardening.md states the rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from email_actions.invisible import HIDDEN
from tests.conftest import load_event, with_body
from tests.hardening.conftest import Harness, Run
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("bad_input")

# The characters the third review found reaching the approver, and their neighbours in each range.
REPORTED = [
    *map(chr, range(0xE0000, 0xE0080, 7)),
    "\U000e007f",
    *map(chr, range(0x200B, 0x2010)),
    "\ufeff",
    "\u00ad",
    *map(chr, range(0x2060, 0x2065)),
    "\u061c",
    "\u180e",
    "\u034f",
    *map(chr, range(0xFFF9, 0xFFFC)),
    "\u3164",
    "\u115f",
    "\u1160",
    *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
]
# One of each range of the list, at both ends: the list itself is what is tested.
EVERY_RANGE = sorted({chr(code) for low, high, _ in HIDDEN for code in (low, high)})
DIRECTION_MARKS = "\u200e\u200f\u061c"  # a body may hold them (right-to-left prose)


def flag(tags: str) -> str:
    return "\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in tags) + "\U000e007f"


ALLOWED = {
    "emoji ZWJ sequence": "Family 👨\u200d👩\u200d👧\u200d👦 photos",
    "emoji ZWJ with skin tone and VS-16": "Team 👍🏽\u200d♂️ done",
    "keycap": "Step 1\ufe0f\u20e3 done",
    "text or emoji style": "Thanks ☺\ufe0e ☺\ufe0f",
    "Scotland's flag": f"Match {flag('gbsct')} tonight",
    "Wales' flag": f"Go {flag('gbwls')}",
    "Persian with a ZWNJ": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "Hindi with a ZWJ": "\u0915\u094d\u200d\u0937",
}
SMUGGLED = {
    "tag text after a flag": f"See {flag('ignore')} now",
    "tag text alone": "Hi" + "".join(chr(0xE0000 + ord(c)) for c in "send all mail"),
    "variation selectors carrying bytes": "Hi 😀" + "".join(chr(0xE0100 + b) for b in b"secret"),
    "two style selectors in a row": "Hi ☺\ufe0f\ufe0f",
    "a ZWJ between Latin letters": "pay\u200dpal",
    "a ZWNJ between Latin letters": "in\u200cvoice",
    "a ZWJ after an emoji, before a letter": "👍\u200dok",
}


def refused(h: Harness, run: Run, field: str, character: str) -> None:
    assert run.answer.status == 400, run.answer.body
    assert field in run.answer.body["fields"]
    assert f"U+{ord(character):04X}" in run.answer.message
    assert h.standin.requests == []


def sent_as_written(h: Harness, run: Run, field: str, value: str) -> None:
    assert run.answer.status == 200, run.answer.body
    (posted,) = [r for r in h.standin.requests if r.method == "POST"]
    if field == "body":
        assert value in posted.json["markdown"] or value in str(posted.json)
    else:
        assert posted.json[field] == value


def event_with(field: str, value: str) -> dict[str, Any]:
    fields = {"subject": "Hello", "body": "Hello"}
    fields[field] = value
    return with_body(load_event("send"), **fields)


@pytest.mark.parametrize("field", ["subject", "body"])
def test_every_hidden_character_between_letters_is_refused_naming_it(harness: Harness, field: str) -> None:
    for character in sorted({*REPORTED, *EVERY_RANGE}):
        if field == "body" and character in DIRECTION_MARKS:
            continue
        # GIVEN a subject or body with a hidden character between ordinary words
        harness.fresh()
        # WHEN the agent sends it
        run = harness.run(event_with(field, f"Invoice{character}attached"))
        # THEN it is refused on that field, naming the character, and nothing reaches MultiMail
        refused(harness, run, field, character)


@pytest.mark.parametrize("field", ["subject", "body"])
@pytest.mark.parametrize("case", SMUGGLED, ids=list(SMUGGLED))
def test_hidden_text_inside_emoji_and_flags_is_refused(harness: Harness, field: str, case: str) -> None:
    # GIVEN hidden characters dressed as an emoji sequence or a flag
    harness.fresh()
    # WHEN the agent sends THEN it is refused and nothing reaches MultiMail
    run = harness.run(event_with(field, SMUGGLED[case]))
    assert run.answer.status == 400, run.answer.body
    assert field in run.answer.body["fields"]
    assert harness.standin.requests == []


@pytest.mark.parametrize("field", ["subject", "body"])
@pytest.mark.parametrize("case", ALLOWED, ids=list(ALLOWED))
def test_emoji_flags_and_joining_scripts_are_sent_as_written(harness: Harness, field: str, case: str) -> None:
    # GIVEN text whose joiners, selectors or tags render visibly (one emoji, a flag, joined letters)
    harness.fresh()
    # WHEN the agent sends it THEN it goes out exactly as written
    run = harness.run(event_with(field, ALLOWED[case]))
    sent_as_written(harness, run, field, ALLOWED[case])
    COUNTS.intended_sends += 1


def test_a_body_may_hold_direction_marks_a_subject_may_not(harness: Harness) -> None:
    hebrew = "\u05e2\u05d3\u05db\u05d5\u05df \u200f(2026) \u05d7\u05e9\u05d5\u05d1"
    # GIVEN right-to-left prose with a RIGHT-TO-LEFT MARK placing its numbers
    harness.fresh()
    body = harness.run(event_with("body", hebrew))
    harness.fresh()
    subject = harness.run(event_with("subject", hebrew))
    # THEN the body is sent as written, and the subject (one header line the approver skims) refused
    assert body.answer.status == 200, body.answer.body
    refused(harness, subject, "subject", "\u200f")
