"""Hypothesis strategies for Bedrock events: from the operation table, and from the `events/` fixtures.

The schema strategy plays a model that calls an action badly: it picks an operation from
the function's table (email_actions.operations), and for each of its parameters and body fields it leaves it out,
gives a valid value, or gives a hostile one; it may add fields the schema does not know, repeat
one, or write a `type` that does not match. The mutation strategy starts from a real fixture
and breaks its shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from email_actions.invisible import HIDDEN

ROOT = Path(__file__).resolve().parents[2]
# Bedrock Agent events only: events/gateway_*.json are AgentCore Gateway invocations (tests/gateway/).
FIXTURES = {
    path.stem: json.loads(path.read_text())
    for path in sorted((ROOT / "events").glob("*.json"))
    if not path.stem.startswith("gateway_")
}
GOOD_FIXTURES = sorted(name for name in FIXTURES if not name.startswith("bad_"))
# Line breaks and controls that header fields (subject, to, cc, bcc) must refuse: CR, LF, NUL, and
# the Unicode ones a model or an attacker can also use (issue 12).
BREAKERS = ("\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x1b", "\x85", "\u2028", "\u2029", "\u202e")
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Every character a subject refuses: all of category Cc, the line and paragraph separators, and
# the bidi embedding, override and isolate controls.
SUBJECT_REFUSED = (*map(chr, (*range(0x20), *range(0x7F, 0xA0))), "\u2028", "\u2029", *BIDI_CONTROLS)
# Every character invisible.py calls hidden (refused in subjects unless an emoji or a joining
# script needs it), and the bidi controls: what generated visible text must not contain.
HIDDEN_CHARACTERS = "".join(chr(c) for low, high, _ in HIDDEN for c in range(low, high + 1)) + BIDI_CONTROLS
# Invisible or direction-changing characters that would make an address display as another one.
INVISIBLE_CHARACTERS = (
    "\u200b",  # ZERO WIDTH SPACE
    "\u200c",  # ZERO WIDTH NON-JOINER
    "\u200d",  # ZERO WIDTH JOINER
    "\u2060",  # WORD JOINER
    "\ufeff",  # BYTE ORDER MARK
    "\u00ad",  # SOFT HYPHEN
    "\u200e",  # LEFT-TO-RIGHT MARK
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u061c",  # ARABIC LETTER MARK
    *BIDI_CONTROLS,
    "\U000e0041",  # TAG LATIN CAPITAL LETTER A
    "\ue000",  # private use
    "\x1b",
    "\u2028",
)
# A display name that shows one address while the email goes to another.
SPOOFED_RECIPIENTS = (
    "ceo@company.com <attacker@evil.com>",
    '"ceo@company.com" <attacker@evil.com>',
    "CEO (ceo@company.com) <attacker@evil.com>",
    "Reply to ceo@company.com only <attacker@evil.com>",
    "ceo@company <attacker@evil.com>",
)
# Mixed-script (look-alike) domains: accepted, and reported by the request models.
LOOKALIKE_ADDRESSES = (
    "billing@p\u0430ypal.com",  # a Cyrillic a
    "ceo@xn--pypal-4ve.com",  # the same in punycode
    "ana@g\u03bfogle.com",  # a Greek omicron
    "ana@\uff50aypal.com",  # a FULLWIDTH p
)
# What a malformed event (or a gateway call of the wrong type) carries instead of text.
NON_STRING_VALUES: tuple[object, ...] = (None, 0, 42, -1.5, True, False, [], ["ana@example.com"], {}, {"value": "Hi"})

# Internationalised addresses that a model could well be given (SMTPUTF8 and IDNA forms).
INTERNATIONAL_ADDRESSES = (
    "josé@exemple.fr",
    "用户@例子.广告",
    "иван@пример.рф",
    "θσερ@εχαμπλε.ψομ",
    "a@xn--bcher-kva.example",
    "o'brien+tag@example.ie",
)
INVALID_ADDRESSES = (
    "",
    "bob",
    "bob@",
    "@example.com",
    "bob@@example.com",
    "bob@example",
    "bob@example..com",
    "bob@.example.com",
    "bob smith@example.com",
    "bob@exa mple.com",
    "<bob@example.com",
    "bob@example.com>",
    "bob@example.c",
    "bob@-example.com",
    '"bob"@example.com',
    "bob@example.com\r\nBcc: all@example.com",
    "bob@exam\x00ple.com",
    "a" * 65 + "@example.com",
    "bob@" + "a" * 250 + ".com",
    "bob@example.com\u2028Bcc: all@example.com",
    "b\u200bob@example.com",
    "bob@exam\u202eple.com",
    *SPOOFED_RECIPIENTS,
)


@dataclass(frozen=True)
class Field:
    name: str
    location: str  # path, query or body
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    fields: tuple[Field, ...]

    @property
    def has_body(self) -> bool:
        return any(f.location == "body" for f in self.fields)


def _operations() -> tuple[Operation, ...]:
    """The function's operations, their arguments read by the one reader of the request models."""
    from email_actions.operations import OPERATIONS
    from tools.openapi import arguments

    return tuple(
        Operation(
            operation.method,
            operation.path,
            tuple(Field(a.name, a.location, a.required, a.schema) for a in arguments(operation)),
        )
        for operation in OPERATIONS
    )


OPERATIONS = _operations()


# -- values ------------------------------------------------------------------------------------

unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@st.composite
def with_breaker(draw: st.DrawFn, base: st.SearchStrategy[str] = unicode_text, *, inside: bool = False) -> str:
    """A string with a CR, LF or NUL somewhere in it (with `inside`, between visible characters,
    where stripping the ends cannot remove it: that is where header injection puts it)."""
    text = draw(base)
    at = draw(st.integers(0, len(text)))
    breaker = draw(st.sampled_from(BREAKERS))
    if inside:
        return f"a{text[:at]}{breaker}{text[at:]}z"
    return text[:at] + breaker + text[at:]


valid_addresses = st.sampled_from(
    ("ana@example.com", "li@example.org", "Sam Lee <sam@example.net>", *INTERNATIONAL_ADDRESSES)
)
invalid_addresses = st.one_of(
    st.sampled_from(INVALID_ADDRESSES),
    unicode_text.filter(lambda s: "@" not in s and s.strip() and "," not in s and ";" not in s),
)


def address_list_text(addresses: list[str], style: str) -> str:
    if style == "json":
        return json.dumps(addresses, ensure_ascii=False)
    return (", " if style == "comma" else ";").join(addresses)


@st.composite
def address_lists(draw: st.DrawFn, item: st.SearchStrategy[str] = valid_addresses, max_size: int = 3) -> str:
    addresses = draw(st.lists(item, min_size=1, max_size=max_size))
    return address_list_text(addresses, draw(st.sampled_from(("json", "comma", "semicolon"))))


hostile_text = st.one_of(
    unicode_text,
    with_breaker(),
    st.sampled_from(
        (
            "",
            " ",
            "null",
            "None",
            "[]",
            "{}",
            "[",
            '{"a": 1}',
            "-1",
            "0",
            "1e309",
            "NaN",
            "9" * 40,
            "../../etc/passwd",
            "%2e%2e%2f",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "\u202eevil",
            "\ufeffbom",
            "😀" * 20,
            "a\u2028b",
            "\x1b[31mred",
            *SPOOFED_RECIPIENTS,
        )
    ),
    st.integers(min_value=1000, max_value=300_000).map(lambda n: "x" * n),  # huge
    # huge and expensive to serialise: each of these grows several times when escaped twice
    st.sampled_from(("😀", '"', "\\", "é", "\u2028")).flatmap(
        lambda unit: st.integers(100, 50_000).map(lambda n: unit * n)
    ),
)


def valid_value(field: Field) -> st.SearchStrategy[str]:
    schema = field.schema
    kind = schema.get("type")
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", 100))
        return st.integers(low, min(high, low + 1000)).map(str)
    if kind == "array":
        return address_lists()
    if "pattern" in schema:
        if field.name == "email_id":
            return st.sampled_from(("em_seed_invoice", "em_seed_injection", "em_missing_123"))
        if field.name == "direction":
            return st.sampled_from(("inbound", "outbound", "all"))
        return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: s.strip() == s)
    limit = int(schema.get("maxLength", 200))
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=min(limit, 300))


def value_for(field: Field) -> st.SearchStrategy[Any]:
    """Mostly strings (as Bedrock sends), sometimes the wrong JSON type (a malformed event)."""
    return st.one_of(
        valid_value(field),
        valid_value(field),
        hostile_text,
        invalid_addresses if field.schema.get("type") == "array" else hostile_text,
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            st.lists(st.integers(), max_size=3),
            st.sampled_from(NON_STRING_VALUES),
        ),
    )


type_words = st.sampled_from(("string", "integer", "number", "boolean", "array", "object", "", "String"))


@st.composite
def schema_events(draw: st.DrawFn) -> tuple[dict[str, Any], Operation]:
    """An event for one operation of the schema, as a careless or hostile model might send it."""
    operation = draw(st.sampled_from(OPERATIONS))
    event = _envelope(operation.method, operation.path)
    parameters: list[dict[str, Any]] = []
    properties: list[dict[str, Any]] = []
    careful = draw(st.integers(0, 2)) == 0  # a third of the events are well-formed calls
    for field in operation.fields:
        if not (field.required and (careful or draw(st.integers(0, 4)))) and not draw(st.booleans()):
            continue
        value = draw(valid_value(field) if careful else value_for(field))
        item = {"name": field.name, "type": draw(type_words), "value": value}
        (properties if field.location == "body" else parameters).append(item)
    if careful:
        event["parameters"] = parameters
        if properties:
            event["requestBody"] = _body(properties)
        return event, operation
    for _ in range(draw(st.integers(0, 2))):  # fields the schema does not know
        name = draw(st.one_of(st.sampled_from(("attachments", "idempotency_key", "reply_all", "to ")), unicode_text))
        target = properties if operation.has_body and draw(st.booleans()) else parameters
        target.append({"name": name, "type": "string", "value": draw(hostile_text)})
    if draw(st.integers(0, 9)) == 0:  # one parameter given twice
        target = properties if properties and (not parameters or draw(st.booleans())) else parameters
        if target:
            target.append(dict(draw(st.sampled_from(target))))
    send_empty_parameters, send_empty_body, stray_body = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    if parameters or send_empty_parameters:
        event["parameters"] = parameters
    if (operation.has_body or stray_body) and (properties or send_empty_body):  # a body even on a GET, sometimes
        event["requestBody"] = _body(properties)
    return event, operation


def _body(properties: list[dict[str, Any]]) -> dict[str, Any]:
    return {"content": {"application/json": {"properties": properties}}}


def _envelope(method: str, path: str) -> dict[str, Any]:
    return {
        "messageVersion": "1.0",
        "agent": {"name": "multimail-email-agent", "id": "AGENT12345", "alias": "TSTALIASID", "version": "DRAFT"},
        "inputText": "do it",
        "sessionId": "hardening-session",
        "actionGroup": "EmailActions",
        "apiPath": path,
        "httpMethod": method,
        "sessionAttributes": {},
        "promptSessionAttributes": {},
    }


# -- fixture mutations -------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), unicode_text),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(unicode_text, children, max_size=3)),
    max_leaves=8,
)
TOP_KEYS = ("messageVersion", "agent", "inputText", "sessionId", "actionGroup", "apiPath", "httpMethod",
            "parameters", "requestBody", "sessionAttributes", "promptSessionAttributes")  # fmt: skip


def _fields(event: dict[str, Any]) -> list[list[Any]]:
    """The event's field lists (parameters and body properties) that are lists."""
    found = []
    if isinstance(event.get("parameters"), list):
        found.append(event["parameters"])
    try:
        properties = event["requestBody"]["content"]["application/json"]["properties"]
    except (KeyError, TypeError):
        properties = None
    if isinstance(properties, list):
        found.append(properties)
    return found


def _items(items: list[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from([item for item in items if isinstance(item, dict)])


@st.composite
def mutate(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    """One structural mutation of an event (which may already be mutated)."""
    if not isinstance(event, dict):
        return event
    event = json.loads(json.dumps(event))
    lists = [items for items in _fields(event) if any(isinstance(item, dict) for item in items)]
    choice = draw(st.integers(0, 11))
    if choice == 0:
        event.pop(draw(st.sampled_from(TOP_KEYS)), None)
    elif choice == 1:
        event[draw(st.sampled_from(TOP_KEYS))] = draw(json_values)
    elif choice == 2:
        event["apiPath"] = draw(
            st.one_of(st.sampled_from(("/nope", "/send/", "/SEND", "", "/emails/", "/pending/x")), unicode_text)
        )
    elif choice == 3:
        event["httpMethod"] = draw(st.sampled_from(("GET", "POST", "PUT", "DELETE", "PATCH", "get", "", "OPTIONS")))
    elif choice == 4:
        event["requestBody"] = draw(
            st.sampled_from(
                (
                    {},
                    {"content": {}},
                    {"content": {"application/json": {}}},
                    {"content": {"text/plain": {}}},
                    {"content": {"application/json": {"properties": {}}}},
                    [],
                    "body",
                )
            )
        )
    elif choice == 5 and lists:
        items = draw(st.sampled_from(lists))
        items.pop(draw(st.integers(0, len(items) - 1)))
    elif choice == 6 and lists:
        items = draw(st.sampled_from(lists))
        items.append(dict(draw(_items(items))))  # a duplicated parameter
    elif choice == 7 and lists:
        item = draw(_items(draw(st.sampled_from(lists))))
        item["value"] = draw(st.one_of(hostile_text, with_breaker(), invalid_addresses, json_values))
    elif choice == 8 and lists:
        item = draw(_items(draw(st.sampled_from(lists))))
        item[draw(st.sampled_from(("name", "value", "type")))] = draw(json_values)
    elif choice == 9 and lists:
        item = draw(_items(draw(st.sampled_from(lists))))
        if item:
            del item[draw(st.sampled_from(sorted(item)))]
    elif choice == 10 and lists:
        draw(st.sampled_from(lists)).append(draw(json_values))  # an item that is not a {name, value}
    else:
        event["parameters" if draw(st.booleans()) else "requestBody"] = draw(json_values)
    return event


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(FIXTURES)))
    event: Any = FIXTURES[name]
    for _ in range(draw(st.integers(1, 3))):
        event = draw(mutate(event))
    if draw(st.integers(0, 19)) == 0:  # not an event at all
        event = draw(st.one_of(st.just({}), json_values))
    return name, event


def unique_marker(text: str) -> str:
    """A token that identifies one intended send in the stand-in's mailbox."""
    return re.sub(r"[^A-Za-z0-9]", "", text)[:40]
