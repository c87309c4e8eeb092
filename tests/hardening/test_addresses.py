"""Recipient addresses as an attacker would write them (issue 20, items 5 to 7).

- A display name that shows an address other than the real one is refused in every disguise of
  the @ (fullwidth, small, spaced, written out, an HTML entity, a percent escape), and nothing
  reaches MultiMail.
- Address syntax is email-validator's: the malformed addresses the review found are refused, a
  quoted display name with a comma is one recipient.
- Look-alike domains: a whole-script Cyrillic look-alike is flagged in the answer; Japanese domains
  with 々 or 〆 are not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import load_event, with_body
from tests.hardening.conftest import Harness
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("bad_input")

ATTACKER = "attacker@evil.example"
DISGUISED_AT = {
    "fullwidth @": "ceo\uff20company.com",
    "small @": "ceo\ufe6bcompany.com",
    "spaced @": "ceo @ company.com",
    "(at)": "ceo(at)company.com",
    "[at]": "ceo [at] company.com",
    "word at": "ceo at company.com",
    "word at and dot": "ceo at company dot com",
    "HTML entity": "ceo&#64;company.com",
    "named entity": "ceo&commat;company.com",
    "hex entity": "ceo&#x40;company.com",
    "double-encoded entity": "ceo&amp;#64;company.com",
    "percent escape": "ceo%40company.com",
    "double percent escape": "ceo%2540company.com",
    "JSON escape": "ceo\\u0040company.com",
    "fullwidth letters too": "\uff43\uff45\uff4f\uff20company.com",
}
MALFORMED = [
    "a..b@x.com",
    ".a@x.com",
    "a.@x.com",
    "user@exa_mple.com",
    "a@localhost",
    '"q"@x.com',
    "a@[1.2.3.4]",
    "bob@example.c",
    "a" * 65 + "@example.com",
]
WELL_FORMED_LISTS = {
    '"Doe, John" <john@example.com>': ["john@example.com"],
    '"Doe, John" <john@example.com>, ana@example.org': ["john@example.com", "ana@example.org"],
    "Sales at Acme <sales@acme.example>": ["sales@acme.example"],
    "ceo@company.com <ceo@company.com>": ["ceo@company.com"],
    "ceo\uff20company.com <ceo@company.com>": ["ceo@company.com"],
    "José <josé@exemple.fr>; li@example.org": ["josé@exemple.fr", "li@example.org"],
    # a special-use name (RFC 6761): syntax is ours to check, deliverability MultiMail's
    "colleague@standin.multimail.local": ["colleague@standin.multimail.local"],
}
NOT_LOOKALIKES = [
    "info@\u6771\u4eac\u3005.jp",
    "info@\u65e5\u672c\u3006.jp",
    "ana@\u30c6\u30b9\u30c8.jp",
    "li@例子.广告",
]
LOOKALIKES = [
    "ceo@\u0430\u0440\u0440\u04cf\u0435.com",  # apple.com, every letter Cyrillic
    "ceo@xn--80ak6aa92e.com",  # the same in punycode
    "billing@p\u0430ypal.com",  # one Cyrillic a among Latin letters
]


def send_to(to: Any, marker: str = "") -> dict[str, Any]:
    return with_body(load_event("send"), to=to, subject=f"Addresses {marker}", body=f"Body {marker}")


@pytest.mark.parametrize("disguise", DISGUISED_AT, ids=list(DISGUISED_AT))
@pytest.mark.parametrize("style", ["text", "json", "quoted"])
def test_a_display_name_showing_another_address_is_refused_in_every_disguise(
    harness: Harness, disguise: str, style: str
) -> None:
    shown = DISGUISED_AT[disguise]
    written = f'"{shown}" <{ATTACKER}>' if style == "quoted" else f"{shown} <{ATTACKER}>"
    # GIVEN a recipient whose display name shows the CEO's address, while the email goes to the attacker
    harness.fresh()
    # WHEN the agent sends
    run = harness.run(send_to(json.dumps([written]) if style == "json" else written))
    # THEN it is refused, naming the field and the real destination, and nothing reaches MultiMail
    assert run.answer.status == 400, run.answer.body
    assert "to" in run.answer.body["fields"]
    assert "display name shows the address" in run.answer.message
    assert harness.standin.requests == []


@pytest.mark.parametrize("address", MALFORMED)
def test_malformed_addresses_are_refused(harness: Harness, address: str) -> None:
    harness.fresh()
    run = harness.run(send_to(address))
    assert run.answer.status == 400, run.answer.body
    assert "is not an email address" in run.answer.message
    assert harness.standin.requests == []


@pytest.mark.parametrize("written", WELL_FORMED_LISTS, ids=list(WELL_FORMED_LISTS))
def test_well_formed_lists_are_sent_to_exactly_their_addresses(harness: Harness, written: str) -> None:
    # GIVEN a recipient list as people write it (a quoted name with a comma, a name that is an address)
    harness.fresh()
    marker = f"list-{abs(hash(written))}"
    # WHEN the agent sends THEN it goes out to exactly those addresses
    run = harness.run(send_to(written, marker))
    assert run.answer.status == 200, run.answer.body
    (posted,) = [r for r in harness.standin.requests if r.method == "POST"]
    assert posted.json["to"] == WELL_FORMED_LISTS[written]
    harness.check_sent(marker, run.answer)
    COUNTS.intended_sends += 1


@pytest.mark.parametrize("address", LOOKALIKES)
def test_a_lookalike_domain_is_sent_with_a_warning(harness: Harness, address: str) -> None:
    harness.fresh()
    run = harness.run(send_to(address))
    assert run.answer.status == 200, run.answer.body
    assert run.answer.body["lookalike_recipients"] == [address]
    assert "look-alike domain" in run.answer.message


@pytest.mark.parametrize("address", NOT_LOOKALIKES)
def test_japanese_and_chinese_domains_are_not_flagged(harness: Harness, address: str) -> None:
    harness.fresh()
    run = harness.run(send_to(address))
    assert run.answer.status == 200, run.answer.body
    assert "lookalike_recipients" not in run.answer.body
    assert "look-alike" not in run.answer.message
