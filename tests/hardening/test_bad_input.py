"""Bad input: whatever a model sends, the answer is a valid Bedrock response; invalid input never
reaches MultiMail; and the answer names the field to fix.

Events come from hypothesis, built from the OpenAPI schema and by mutating the `events/` fixtures.
Every event runs through the real `lambda_handler` against the loopback stand-in.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import assume, event, example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tests.conftest import load_event, with_body, with_params
from tests.hardening.conftest import Harness, Run, hardening_settings
from tests.hardening.strategies import (
    FIXTURES,
    INTERNATIONAL_ADDRESSES,
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
_BREAKERS = re.compile(r"[\r\n\x00]")


def check_answer(h: Harness, run: Run) -> None:
    """The properties every answer to bad input must have."""
    answer = run.answer
    if currently_in_test_context():  # shown by --hypothesis-show-statistics
        event(f"{answer.status} {answer.body.get('error', 'ok')}")
    assert answer.status in EXPECTED_STATUSES, answer.body
    assert answer.body.get("error") != "internal_error", answer.body
    refused = answer.status == 400 or answer.body.get("error") == "unknown_action"
    if refused:  # invalid input never reaches the stand-in
        assert h.standin.requests == [], [f"{r.method} {r.path}" for r in h.standin.requests]
        assert answer.message
    if answer.body.get("error") == "invalid_input":  # and the answer names the fields to fix
        assert answer.body["fields"], answer.body
        for name in answer.body["fields"]:
            assert f"`{name}" in answer.message or name == "request body", answer.body
    for request in h.standin.requests:  # what did reach MultiMail is clean
        if request.method == "POST" and isinstance(request.json, dict):
            for key in ("subject", "to", "cc", "bcc"):
                assert not _BREAKERS.search(json.dumps(request.json.get(key)).encode().decode("unicode_escape"))


def refused_naming(run: Run, field: str) -> None:
    """Refused, and the field is named: in `fields`, or as a word of the message."""
    assert run.answer.status == 400, run.answer.body
    named = field in run.answer.body.get("fields", []) or re.search(rf"\b{re.escape(field)}\b", run.answer.message)
    assert named, run.answer.body


# -- generated from the schema and from the fixtures ---------------------------------------------


@hardening_settings(weight=4)
@given(generated=schema_events())
def test_events_generated_from_the_schema_always_get_a_valid_answer(harness: Harness, generated: Any) -> None:
    # GIVEN an event for one of the six actions, with missing, extra, repeated, hostile or mistyped fields
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


@pytest.mark.parametrize("address", INTERNATIONAL_ADDRESSES)
def test_internationalised_addresses_reach_multimail_unchanged(harness: Harness, address: str) -> None:
    # GIVEN an internationalised (SMTPUTF8 or IDNA) address
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
    assume(not (field == "body_offset" and value.strip() in {"0", "51"}))
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
    assert run.seconds < 2.0
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
