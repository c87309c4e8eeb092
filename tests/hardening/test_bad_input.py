"""Bad input: whatever a model sends, the answer is a valid Bedrock response; invalid input never
reaches MultiMail; and the answer names the field to fix.

Events come from hypothesis, built from the OpenAPI schema and by mutating the `events/` fixtures.
Every event runs through the real `lambda_handler` against the loopback stand-in.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import assume, event, example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from pydantic import TypeAdapter, ValidationError

from tests.conftest import load_event, with_body, with_params
from tests.hardening.conftest import Harness, Run, hardening_settings
from tests.hardening.strategies import (
    FIXTURES,
    HIDDEN_CHARACTERS,
    INTERNATIONAL_ADDRESSES,
    INVISIBLE_CHARACTERS,
    LOOKALIKE_ADDRESSES,
    NON_STRING_VALUES,
    SPOOFED_RECIPIENTS,
    SUBJECT_REFUSED,
    address_list_text,
    hostile_text,
    invalid_addresses,
    mutated_fixtures,
    schema_events,
    unicode_text,
    valid_addresses,
    with_breaker,
)

pytestmark = pytest.mark.area("bad_input")

# What the function may answer to bad input while MultiMail is healthy. 500 is not in the list:
# it would mean an exception the function did not expect, caught only by the last-resort handler.
EXPECTED_STATUSES = {200, 400, 404, 409, 422}
# What must never reach MultiMail in a header field: every character a subject refuses, and in an
# address also every invisible one (format, private-use, unassigned, separators).
_HEADER_REFUSED = re.compile("[" + re.escape("".join(SUBJECT_REFUSED)) + "]")
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
ANSWER_LIMIT = 25_000  # bytes of the serialized response (issue 12); Bedrock's documented practice


def check_answer(h: Harness, run: Run) -> None:
    """The properties every answer to bad input must have."""
    answer = run.answer
    if currently_in_test_context():  # shown by --hypothesis-show-statistics
        event(f"{answer.status} {answer.body.get('error', 'ok')}")
    assert answer.status in EXPECTED_STATUSES, answer.body
    assert answer.body.get("error") != "internal_error", answer.body
    # A 400 is ours (the input never left) unless MultiMail itself refused what passed our checks.
    refused_by_us = answer.status == 400 and answer.body.get("error") != "rejected_by_multimail"
    refused = refused_by_us or answer.body.get("error") == "unknown_action"
    if refused:  # invalid input never reaches the stand-in
        assert h.standin.requests == [], [f"{r.method} {r.path}" for r in h.standin.requests]
        assert answer.message
    if answer.body.get("error") == "invalid_input":  # and the answer names the fields to fix
        assert answer.body["fields"], answer.body
        for name in answer.body["fields"]:
            assert f"`{name}" in answer.message or name == "request body", answer.body
    assert len(json.dumps(run.answer.raw)) < ANSWER_LIMIT
    for request in h.standin.requests:  # what did reach MultiMail is clean
        if request.method == "POST" and isinstance(request.json, dict):
            subject = request.json.get("subject")
            assert not (isinstance(subject, str) and _HEADER_REFUSED.search(subject)), subject
            for key in ("to", "cc", "bcc"):
                for address in request.json.get(key) or []:
                    assert not {unicodedata.category(c) for c in address} & _INVISIBLE_CATEGORIES, address


def refused_naming(run: Run, field: str) -> None:
    """Refused, and the field is named: in `fields`, or as a word of the message."""
    assert run.answer.status == 400, run.answer.body
    named = field in run.answer.body.get("fields", []) or re.search(rf"\b{re.escape(field)}\b", run.answer.message)
    assert named, run.answer.body


# -- generated from the schema and from the fixtures ---------------------------------------------


@hardening_settings(weight=4)
@given(generated=schema_events())
def test_events_generated_from_the_schema_always_get_a_valid_answer(harness: Harness, generated: Any) -> None:
    # GIVEN an event for one of the actions, with missing, extra, repeated, hostile or mistyped fields
    event, _ = generated
    harness.fresh()
    # WHEN it runs through the handler
    run = harness.run(event)
    # THEN the answer is valid, refusals never reached the stand-in, and they name the field
    check_answer(harness, run)


@hardening_settings(weight=4)
@given(mutated=mutated_fixtures())
@example(mutated=("send", {}))
@example(mutated=("send", []))
@example(mutated=("send", None))
@example(mutated=("send", "POST /send"))
@example(mutated=("send", {**FIXTURES["send"], "requestBody": {"content": {"application/json": {}}}}))
@example(mutated=("send", {**FIXTURES["send"], "actionGroup": 7}))
@example(mutated=("send", {k: v for k, v in FIXTURES["send"].items() if k != "actionGroup"}))
@example(mutated=("read_email", {**FIXTURES["read_email"], "parameters": None}))
def test_mutated_fixtures_always_get_a_valid_answer(harness: Harness, mutated: Any) -> None:
    # GIVEN a fixture from events/ with its shape broken (keys dropped, retyped, duplicated, ...)
    _, event = mutated
    harness.fresh()
    # WHEN it runs through the handler THEN the answer is valid and refusals never reached the stand-in
    check_answer(harness, harness.run(event))


# -- each kind of bad input, with the field it must name ----------------------------------------


@hardening_settings()
@given(field=st.sampled_from(("subject", "to", "cc", "bcc")), value=with_breaker(inside=True))
@example(field="subject", value="Hello\r\nBcc: everyone@example.com")
@example(field="to", value="ana@example.com\nBcc: everyone@example.com")
def test_line_breaks_and_nul_in_header_fields_are_refused_by_name(harness: Harness, field: str, value: str) -> None:
    # GIVEN a send whose header field carries CR, LF or NUL (the way header injection works)
    harness.fresh()
    if field != "subject":
        value = f"ana@example.com{value}"
    event = with_body(load_event("send"), **{field: value})
    # WHEN the agent calls send
    run = harness.run(event)
    # THEN it is refused, naming the field, and nothing reached MultiMail
    check_answer(harness, run)
    refused_naming(run, field)


@hardening_settings()
@given(
    field=st.sampled_from(("to", "cc", "bcc")),
    bad=invalid_addresses,
    good=st.lists(valid_addresses, max_size=2),
    style=st.sampled_from(("json", "comma", "semicolon")),
)
def test_invalid_addresses_are_refused_by_name(
    harness: Harness, field: str, bad: str, good: list[str], style: str
) -> None:
    # GIVEN a recipient list with one address that is not an address, among good ones
    assume(bad.strip() and not (style != "json" and re.search(r"[,;]", bad)))
    harness.fresh()
    event = with_body(load_event("send"), **{field: address_list_text([*good, bad], style)})
    # WHEN the agent calls send THEN it is refused, naming the list, and nothing was sent
    run = harness.run(event)
    check_answer(harness, run)
    refused_naming(run, field)


@pytest.mark.parametrize("address", INTERNATIONAL_ADDRESSES + LOOKALIKE_ADDRESSES)
def test_internationalised_addresses_reach_multimail_unchanged(harness: Harness, address: str) -> None:
    # GIVEN an internationalised (SMTPUTF8 or IDNA) address, or a look-alike (mixed-script) domain,
    # which is not refused (it may be real): the request models report it, see test_models
    harness.fresh()
    # WHEN the agent sends to it
    run = harness.run(with_body(load_event("send"), to=json.dumps([address], ensure_ascii=False)))
    # THEN it is accepted and MultiMail gets it exactly as written
    check_answer(harness, run)
    assert run.answer.status == 200, run.answer.body
    (posted,) = [r for r in harness.standin.requests if r.method == "POST"]
    assert posted.json["to"] == [address]


@hardening_settings()
@given(
    case=st.sampled_from(
        [("send", "to"), ("send", "subject"), ("send", "body"), ("reply", "email_id"), ("reply", "body")]
    )
)
def test_missing_required_fields_are_named(harness: Harness, case: tuple[str, str]) -> None:
    # GIVEN a send or reply without one of its required fields
    fixture, field = case
    event = load_event(fixture)
    properties = event["requestBody"]["content"]["application/json"]["properties"]
    properties[:] = [p for p in properties if p["name"] != field]
    harness.fresh()
    # WHEN it runs THEN it is refused with "`field` is required" and nothing was sent
    run = harness.run(event)
    check_answer(harness, run)
    refused_naming(run, field)
    assert f"`{field}` is required" in run.answer.message


@hardening_settings()
@given(
    fixture=st.sampled_from(("send", "reply")),
    name=st.one_of(
        st.sampled_from(("attachments", "reply_all", "from", "headers")), st.from_regex(r"[a-z_]{3,20}", fullmatch=True)
    ),
    value=hostile_text,
)
def test_unknown_body_fields_are_refused_by_name(harness: Harness, fixture: str, name: str, value: str) -> None:
    # GIVEN a send or reply with a field the action does not have (an invented `attachments`, say)
    assume(name not in {"to", "cc", "bcc", "subject", "body", "email_id", "mailbox_id"})
    harness.fresh()
    # WHEN it runs THEN it is refused, naming the field, so the model learns nothing was attached
    run = harness.run(with_body(load_event(fixture), **{name: value}))
    check_answer(harness, run)
    refused_naming(run, name)
    assert "is not a parameter of this action" in run.answer.message


_ACCEPTED_RANGES = {"limit": range(1, 51), "body_offset": range(0, 10_000_001)}  # as the routes declare them


def _accepted_number(field: str, value: str) -> bool:
    """Whether the routes' validation takes `value` after all: pydantic reads "-0", "+5" or "5.0" as integers."""
    try:
        return TypeAdapter(int).validate_python(value) in _ACCEPTED_RANGES[field]
    except ValidationError:
        return False


@hardening_settings()
@given(
    case=st.sampled_from([("inbox", "limit"), ("pending", "limit"), ("read_email", "body_offset")]),
    value=st.one_of(
        st.sampled_from(("abc", "1.5", "-1", "0", "1e9", "", " ", "ten", "0x10", "[5]", "true", "51", "9" * 30)),
        unicode_text.filter(lambda s: not s.strip().isdigit()),
    ),
)
def test_mistyped_or_out_of_range_numbers_are_named(harness: Harness, case: tuple[str, str], value: str) -> None:
    # GIVEN a numeric parameter that is not a number in range
    fixture, field = case
    assume(not _accepted_number(field, value))
    harness.fresh()
    # WHEN it runs THEN it is refused, naming the parameter, and MultiMail was not called
    run = harness.run(with_params(load_event(fixture), **{field: value}))
    check_answer(harness, run)
    refused_naming(run, field)


@hardening_settings()
@given(
    value=st.sampled_from(('{"to": "ana@example.com"}', "42", "true", "null", '[["ana@example.com"]]', "[1, 2]", "["))
)
def test_recipients_of_the_wrong_json_type_are_named(harness: Harness, value: str) -> None:
    harness.fresh()
    run = harness.run(with_body(load_event("send"), to=value))
    check_answer(harness, run)
    refused_naming(run, "to")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "s" * 401),
        ("subject", "s" * 1_000_000),
        ("body", "b" * 50_001),
        ("body", "b" * 5_000_000),
        ("to", json.dumps([f"user{i}@example.com" for i in range(51)])),
        ("to", "x" * 30_000),  # one huge invalid address: the answer must not echo it whole
        ("cc", json.dumps(["ana@example.com", "y" * 30_000])),
        ("mailbox_id", "m" * 129),
    ],
)
def test_huge_values_are_refused_by_name(harness: Harness, field: str, value: str) -> None:
    # GIVEN a send with one field far over its limit
    harness.fresh()
    # WHEN it runs THEN it is refused quickly, naming the field, and the answer stays small
    run = harness.run(with_body(load_event("send"), **{field: value}))
    check_answer(harness, run)
    refused_naming(run, field)
    assert harness.pauses == []
    assert harness.standin.requests == []
    assert len(json.dumps(run.answer.raw)) < 5_000


@hardening_settings()
@given(fixture=st.sampled_from(sorted(n for n in FIXTURES if not n.startswith("bad_"))), data=st.data())
def test_duplicated_parameters_are_refused_by_name(harness: Harness, fixture: str, data: st.DataObject) -> None:
    # GIVEN a fixture in which one parameter or body field appears twice (perhaps with another value)
    event = load_event(fixture)
    lists = [event.get("parameters") or []]
    if "requestBody" in event:
        lists.append(event["requestBody"]["content"]["application/json"]["properties"])
    lists = [items for items in lists if items]
    assume(lists)
    items = data.draw(st.sampled_from(lists))
    twin = dict(data.draw(st.sampled_from(items)))
    twin["value"] = data.draw(st.one_of(st.just(twin["value"]), unicode_text))
    items.append(twin)
    harness.fresh()
    # WHEN it runs THEN it is refused, naming the field, and nothing reached MultiMail
    run = harness.run(event)
    check_answer(harness, run)
    assert run.answer.status == 400
    assert f"`{twin['name']}` was given twice" in run.answer.message


@hardening_settings()
@given(
    method=st.sampled_from(("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")),
    path=st.one_of(
        st.sampled_from(("/send", "/inbox", "/reply", "/pending", "/nope", "/oversight/decide", "/approve", "/")),
        st.from_regex(r"/[a-z/{}_]{1,30}", fullmatch=True),
    ),
)
def test_unknown_paths_and_methods_get_the_list_of_actions(harness: Harness, method: str, path: str) -> None:
    known = {("POST", "/send"), ("GET", "/inbox"), ("POST", "/reply"), ("GET", "/pending")}
    assume((method, path) not in known and not path.startswith(("/emails/", "/pending/")))
    # GIVEN an action that does not exist
    harness.fresh()
    event = {**load_event("inbox"), "httpMethod": method, "apiPath": path}
    # WHEN it runs THEN the answer is 404 unknown_action, listing the real actions, with no upstream call
    run = harness.run(event)
    check_answer(harness, run)
    assert run.answer.status == 404
    assert run.answer.body["error"] == "unknown_action"
    assert "POST /send" in run.answer.message
    assert "GET /inbox" in run.answer.message


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({}, "apiPath"),
        ([], "JSON object"),
        (None, "JSON object"),
        ("POST /send", "JSON object"),
        (42, "JSON object"),
        ({"apiPath": "/send"}, "httpMethod"),
        ({"apiPath": 5, "httpMethod": "POST"}, "apiPath"),
        ({**FIXTURES["send"], "httpMethod": ""}, "httpMethod"),
        ({**FIXTURES["inbox"], "parameters": "limit=5"}, "parameters"),
        ({**FIXTURES["inbox"], "parameters": [{"value": "5"}]}, "parameter"),
        ({**FIXTURES["inbox"], "parameters": [{"name": 5, "value": "5"}]}, "parameter"),
        ({**FIXTURES["inbox"], "parameters": ["limit"]}, "parameter"),
        ({**FIXTURES["send"], "requestBody": "to=ana@example.com"}, "request body"),
        ({**FIXTURES["send"], "requestBody": {"content": {"text/plain": {"properties": []}}}}, "application/json"),
        (
            {**FIXTURES["send"], "requestBody": {"content": {"application/json": {"properties": {"to": "x"}}}}},
            "body field",
        ),
    ],
)
def test_malformed_events_get_a_clear_answer(harness: Harness, event: Any, named: str) -> None:
    # GIVEN an event that is not a well-formed Bedrock action request
    harness.fresh()
    # WHEN it runs THEN the answer is a 400 that says what is wrong, and nothing reached MultiMail
    run = harness.run(event)
    check_answer(harness, run)
    assert run.answer.status == 400
    assert named in run.answer.message


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"content": {"application/json": {}}},
        {"content": {"application/json": {"properties": []}}},
        {"content": {"application/json": {"properties": None}}},
    ],
)
@pytest.mark.parametrize("fixture", ["send", "reply"])
def test_a_request_body_without_properties_names_what_is_required(harness: Harness, fixture: str, body: Any) -> None:
    # GIVEN a send or reply whose requestBody is absent, or has no properties
    event = load_event(fixture)
    if body is None:
        event.pop("requestBody")
    else:
        event["requestBody"] = body
    harness.fresh()
    # WHEN it runs THEN it is refused, naming what is required
    run = harness.run(event)
    check_answer(harness, run)
    assert run.answer.status == 400
    if body is None:  # the missing thing is the body itself: the answer lists what it must hold
        required = ["to", "subject", "body"] if fixture == "send" else ["email_id", "body"]
        assert run.answer.body["fields"] == required
        assert "has no body" in run.answer.message
        for field in required:
            assert f"`{field}`" in run.answer.message
    else:
        refused_naming(run, "to" if fixture == "send" else "email_id")


# -- issue 12: what a confused model can still send ---------------------------------------------

_NO_VALUE = object()  # a property without a `value` key at all

# (fixture, where the field lives, field): every kind of field of every action
VALUE_FIELDS = [
    ("send", "body", "to"),
    ("send", "body", "cc"),
    ("send", "body", "subject"),
    ("send", "body", "body"),
    ("send", "body", "mailbox_id"),
    ("reply", "body", "email_id"),
    ("reply", "body", "body"),
    ("inbox", "parameters", "limit"),
    ("inbox", "parameters", "status"),
    ("read_email", "parameters", "email_id"),
    ("read_email", "parameters", "body_offset"),
    ("cancel", "parameters", "email_id"),
]


def with_raw_value(fixture: str, where: str, field: str, value: object) -> dict[str, Any]:
    """The fixture with `field` set to `value` exactly as given (not as text), or with no value at all."""
    event = load_event(fixture)
    items = event.setdefault("parameters", []) if where == "parameters" else _properties(event)
    items[:] = [item for item in items if item["name"] != field]
    item: dict[str, Any] = {"name": field, "type": "string"}
    if value is not _NO_VALUE:
        item["value"] = value
    items.append(item)
    return event


def _properties(event: dict[str, Any]) -> list[dict[str, Any]]:
    properties: list[dict[str, Any]] = event["requestBody"]["content"]["application/json"]["properties"]
    return properties


@hardening_settings()
@given(case=st.sampled_from(VALUE_FIELDS), value=st.sampled_from((_NO_VALUE, *NON_STRING_VALUES)))
@example(case=("send", "body", "subject"), value=None)  # once sent as an email with the subject "null"
@example(case=("send", "body", "subject"), value=_NO_VALUE)
@example(case=("send", "body", "body"), value=42)
@example(case=("send", "body", "to"), value=["ana@example.com"])
def test_values_that_are_not_text_are_refused_by_name(harness: Harness, case: tuple[str, str, str], value: Any) -> None:
    # GIVEN a field whose value is missing, null, a number, a boolean, a list or an object
    fixture, where, field = case
    harness.fresh()
    # WHEN the action runs
    run = harness.run(with_raw_value(fixture, where, field, value))
    # THEN it is a 400 that names exactly that field, and nothing reached MultiMail
    check_answer(harness, run)
    assert run.answer.status == 400, run.answer.body
    assert run.answer.body["fields"] == [field]
    assert f"`{field}`" in run.answer.message


@hardening_settings()
@given(
    field=st.sampled_from(("to", "cc", "bcc")),
    spoof=st.sampled_from(SPOOFED_RECIPIENTS),
    good=st.lists(valid_addresses, max_size=2),
    style=st.sampled_from(("json", "comma", "semicolon")),
)
def test_display_names_that_show_another_address_are_refused(
    harness: Harness, field: str, spoof: str, good: list[str], style: str
) -> None:
    # GIVEN a recipient written as "ceo@company.com <attacker@evil.com>", among genuine ones
    harness.fresh()
    event = with_body(load_event("send"), **{field: address_list_text([*good, spoof], style)})
    # WHEN the agent sends THEN it is refused, naming the field and the address it would really go to
    run = harness.run(event)
    check_answer(harness, run)
    refused_naming(run, field)
    assert "attacker@evil.com" in run.answer.message


@hardening_settings()
@given(
    field=st.sampled_from(("to", "cc", "bcc")),
    address=valid_addresses,
    character=st.sampled_from(INVISIBLE_CHARACTERS),
    data=st.data(),
)
def test_addresses_with_invisible_or_bidi_characters_are_refused(
    harness: Harness, field: str, address: str, character: str, data: st.DataObject
) -> None:
    # GIVEN an address with a zero-width, bidi or other invisible character somewhere inside it
    at = data.draw(st.integers(1, len(address) - 1))
    written = address[:at] + character + address[at:]
    harness.fresh()
    # WHEN the agent sends to it THEN it is refused, naming the field
    run = harness.run(with_body(load_event("send"), **{field: json.dumps([written])}))
    check_answer(harness, run)
    refused_naming(run, field)


# Text a subject may hold: any script, emoji and joiners, but no control, line break or bidi control.
subject_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"], exclude_characters=HIDDEN_CHARACTERS),
    max_size=60,
)


@hardening_settings(weight=2)
@given(character=st.sampled_from(SUBJECT_REFUSED), before=subject_text, after=subject_text)
@example(character="\u2028", before="Invoice", after="Bcc: all@example.com")
@example(character="\x85", before="Invoice", after="Bcc: all@example.com")
@example(character="\x1b", before="", after="[2J")
@example(character="\u202e", before="Invoice ", after="fdp.exe")
def test_every_line_break_and_control_character_in_a_subject_is_refused(
    harness: Harness, character: str, before: str, after: str
) -> None:
    # GIVEN a subject with a Unicode line break, control or bidi control between visible text
    harness.fresh()
    subject = f"a{before}{character}{after}z"
    # WHEN the agent sends THEN it is refused, naming the subject and the code point
    run = harness.run(with_body(load_event("send"), subject=subject))
    check_answer(harness, run)
    refused_naming(run, "subject")
    assert f"U+{ord(character):04X}" in run.answer.message


PERSIAN_WITH_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a ZWNJ between joining letters


@hardening_settings()
@given(text=subject_text)
@example(text=f"Family 👨\u200d👩\u200d👧\u200d👦 / 会议 / Встреча / \u05e2\u05d3\u05db / {PERSIAN_WITH_ZWNJ}")
def test_subjects_in_any_script_with_emoji_sequences_are_sent_unchanged(harness: Harness, text: str) -> None:
    # GIVEN a subject of any script, emoji and joiners, without controls or line breaks
    subject = f"A{text}Z"[:400]
    harness.fresh()
    # WHEN the agent sends it THEN it is accepted and MultiMail gets it exactly
    run = harness.run(with_body(load_event("send"), subject=subject, body="Hello"))
    check_answer(harness, run)
    assert run.answer.status == 200, run.answer.body
    (posted,) = [r for r in harness.standin.requests if r.method == "POST"]
    assert posted.json["subject"] == subject


@hardening_settings()
@given(character=st.sampled_from([c for c in SUBJECT_REFUSED if c not in "\t\n\r" and ord(c) < 0xA0]))
def test_bodies_refuse_controls_other_than_tab_and_line_breaks(harness: Harness, character: str) -> None:
    # GIVEN a body with NUL, ESC, another C0 or a C1 control (tab, CR and LF are ordinary text)
    harness.fresh()
    run = harness.run(with_body(load_event("send"), body=f"Hello\r\n\tthere {character}[31m"))
    # THEN it is refused, naming the body
    check_answer(harness, run)
    refused_naming(run, "body")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"to": 51}, ["to"]),
        ({"to": 30, "bcc": 21}, ["to", "bcc"]),
        ({"to": 1, "cc": 25, "bcc": 25}, ["to", "cc", "bcc"]),
        ({"to": 10, "cc": 41}, ["to", "cc"]),
    ],
)
def test_too_many_recipients_names_to_cc_and_bcc_as_they_apply(
    harness: Harness, fields: dict[str, int], expected: list[str]
) -> None:
    # GIVEN more than 50 recipients spread over some of to, cc and bcc
    counter = iter(range(1000))
    values = {
        name: json.dumps([f"user{next(counter)}@example.com" for _ in range(count)]) for name, count in fields.items()
    }
    harness.fresh()
    # WHEN the agent sends THEN the answer names the lists that hold them (not "request body")
    run = harness.run(with_body(load_event("send"), **values))
    check_answer(harness, run)
    assert run.answer.status == 400
    assert run.answer.body["fields"] == expected
    assert "at most 50 recipients" in run.answer.message


def test_too_many_cc_on_a_reply_names_cc(harness: Harness) -> None:
    harness.fresh()
    run = harness.run(with_body(load_event("reply"), cc=json.dumps([f"u{i}@example.com" for i in range(50)])))
    check_answer(harness, run)
    assert run.answer.body["fields"] == ["cc"]


ABSURD_FILLERS = ("x", "😀", '"', "\\", "é", "\u2028", "<system>")


def _absurd(filler: str, size: int) -> str:
    return (filler * (size // len(filler) + 1))[:size]


@hardening_settings(weight=2)
@given(
    key=st.sampled_from(("apiPath", "httpMethod", "actionGroup", "sessionId")),
    filler=st.sampled_from(ABSURD_FILLERS),
    size=st.one_of(st.integers(1, 400), st.sampled_from((100_000, 1_000_000))),
    fixture=st.sampled_from(("send", "inbox", "read_email")),
)
@example(key="apiPath", filler="x", size=100_000, fixture="inbox")  # once a 200 KB answer
@example(key="sessionId", filler="s", size=1_000_000, fixture="send")  # once accepted
@example(key="apiPath", filler="😀", size=200, fixture="inbox")  # the longest echoed, escaped twice
def test_absurd_echo_fields_and_session_ids_get_a_bounded_answer(
    harness: Harness, key: str, filler: str, size: int, fixture: str
) -> None:
    # GIVEN an event whose apiPath, httpMethod, actionGroup or sessionId is absurd (long, emoji, escapes)
    value = ("/" if key == "apiPath" else "") + _absurd(filler, size)
    event = {**load_event(fixture), key: value}
    harness.fresh()
    # WHEN it runs
    run = harness.run(event)
    # THEN the answer is valid and bounded (check_answer: under 25,000 bytes serialized)
    check_answer(harness, run)
    if len(value) > 200 or (key == "sessionId" and not re.fullmatch(r"[0-9a-zA-Z._:-]{2,100}", value)):
        assert run.answer.status == 400, run.answer.body  # refused, naming what is wrong
        assert key in run.answer.message
        assert harness.standin.requests == []


@hardening_settings()
@given(
    fixture=st.sampled_from(("send", "reply", "inbox", "pending")),
    filler=st.sampled_from(ABSURD_FILLERS),
    size=st.integers(1, 100_000),
    count=st.integers(1, 12),
)
@example(fixture="send", filler="😀", size=64, count=12)  # the longest names that are quoted back
@example(fixture="inbox", filler="x", size=100_000, count=1)
def test_absurd_field_names_get_a_bounded_answer(
    harness: Harness, fixture: str, filler: str, size: int, count: int
) -> None:
    # GIVEN one or many fields with long, emoji or escape-heavy names
    event = load_event(fixture)
    items = _properties(event) if "requestBody" in event else event.setdefault("parameters", [])
    items += [{"name": f"{i}{_absurd(filler, size)}", "type": "string", "value": "v"} for i in range(count)]
    harness.fresh()
    # WHEN it runs THEN the answer is bounded, and a body field that is not the action's is refused
    # (an unknown query parameter is ignored, as before; a name over 64 characters is refused anywhere)
    run = harness.run(event)
    check_answer(harness, run)
    if "requestBody" in event or len(str(count - 1)) + size > 64:
        assert run.answer.status == 400
        assert harness.standin.requests == []


ISSUE_12_FIXTURES = {
    # fixture in events/: (status, error, field named in `fields` or None, words the answer must contain)
    "bad_send_null_subject": (400, "invalid_input", "subject", "`subject` has no value"),
    "bad_send_spoofed_recipient": (400, "invalid_input", "to", "attacker@evil.com"),
    "bad_send_unicode_line_break": (400, "invalid_input", "subject", "U+2028"),
    "bad_send_session_id": (400, "invalid_request", None, "sessionId"),
}


@pytest.mark.parametrize("fixture", sorted(ISSUE_12_FIXTURES))
def test_issue_12_fixtures_are_refused_with_what_to_fix(harness: Harness, fixture: str) -> None:
    # GIVEN one of the events/ fixtures for the holes issue 12 found
    status, error, field, words = ISSUE_12_FIXTURES[fixture]
    harness.fresh()
    # WHEN it runs THEN it is refused as documented, naming what to fix, and nothing reached MultiMail
    run = harness.run(load_event(fixture))
    check_answer(harness, run)
    assert (run.answer.status, run.answer.body["error"]) == (status, error)
    assert field is None or run.answer.body["fields"] == [field]
    assert words in run.answer.message
    assert harness.standin.requests == []


@pytest.mark.parametrize("where", ["parameters", "body"])
def test_an_event_with_thousands_of_fields_is_refused_quickly(harness: Harness, where: str) -> None:
    # GIVEN an event with 20,000 parameters or body fields (no action takes more than six)
    event = load_event("send")
    items = event.setdefault("parameters", []) if where == "parameters" else _properties(event)
    items += [{"name": f"f{i}", "type": "string", "value": "v"} for i in range(20_000)]
    harness.fresh()
    # WHEN it runs THEN it is refused at once, with a small answer, and nothing reached MultiMail
    run = harness.run(event)
    check_answer(harness, run)
    assert run.answer.status == 400
    assert f"{len(items):,}" in run.answer.message
    assert harness.pauses == []
