"""Upstream text that quotes the key never reaches the model or a log line.

An error from MultiMail (or a proxy) may quote the Authorization header it refused. Every status
on every route gets bodies that quote the current key, other MultiMail-shaped keys and bearer
tokens, plainly and disguised (JSON escapes, percent escapes, HTML entities, fullwidth letters, a
zero-width space inside). The answer and the function's log lines are searched for the key after
undoing those disguises.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import unquote

import pytest

from devtools.multimail_standin import Faults
from tests.conftest import load_event
from tests.hardening.conftest import Harness
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("upstream_text")

ROUTES = ["send", "inbox", "read_email", "reply", "pending", "cancel"]
STATUSES = [400, 401, 403, 404, 409, 410, 418, 422, 429, 500, 502, 503, 504]
OTHER_KEY = "mm_test_0123456789abcdefABCDEF"
OTHER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"


def json_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# How an error body may quote a key: each takes the key and gives the raw body.
LEAKY_BODIES: dict[str, Callable[[str], str]] = {
    "plain": lambda k: json.dumps({"error": f"invalid key {k}"}),
    "bearer": lambda k: json.dumps({"error": f"invalid key Bearer {k}"}),
    "header": lambda k: json.dumps({"error": f"refused Authorization: Bearer {k} for this route"}),
    "json escapes": lambda k: '{"error": "invalid key ' + json_escaped(k) + '"}',
    "percent escapes": lambda k: json.dumps({"error": "key=" + "".join(f"%{b:02X}" for b in k.encode())}),
    "html entities": lambda k: json.dumps({"error": "key " + "".join(f"&#{ord(c)};" for c in k)}),
    "fullwidth": lambda k: json.dumps({"error": f"key {fullwidth(k)}"}),
    "zero-width split": lambda k: json.dumps({"error": f"key {k[:6]}\u200b{k[6:]}"}),
    "soft-hyphen split": lambda k: json.dumps({"error": f"key {k[:9]}\u00ad{k[9:]}"}),
    "upper case": lambda k: json.dumps({"error": f"key {k.upper()}"}),
    "nested message": lambda k: json.dumps({"error": {"message": f"bad key {k}"}}),
    "other mm key": lambda k: json.dumps({"error": f"key {OTHER_KEY} is not {k}"}),
    "other bearer token": lambda k: json.dumps({"error": f"Bearer {OTHER_TOKEN} expired"}),
    "api key label": lambda k: json.dumps({"error": f"x-api-key: {OTHER_TOKEN}; api_key={k}"}),
}


def unfolded(text: str) -> str:
    """The text with every disguise above undone, the way a model could undo it."""
    text = unicodedata.normalize("NFKC", unquote(html.unescape(text)))
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def decoded_lines(text: str) -> str:
    """JSON lines with their escapes decoded, so that a \\uXXXX-escaped key is seen too."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            lines.append(line)
    return "\n".join(lines)


def secrets_exposed(text: str, key: str) -> list[str]:
    plain = unfolded(decoded_lines(text))
    found = [
        name for name, secret in (("key", key), ("other key", OTHER_KEY), ("token", OTHER_TOKEN)) if secret in plain
    ]
    found += re.findall(r"(?i)(?<![a-z0-9])mm_[a-z0-9]+_[a-z0-9]", plain)
    found += re.findall(r"(?i)bearer\s+(?!\[redacted\])\S+", plain)
    return found


@pytest.mark.parametrize("status", STATUSES)
def test_an_upstream_error_quoting_the_key_reaches_neither_answer_nor_log(
    harness: Harness, log_output: io.StringIO, status: int
) -> None:
    key = harness.standin.agent_key
    for route in ROUTES:
        for disguise, body_for in LEAKY_BODIES.items():
            # GIVEN MultiMail answers this route with `status` and an error text that quotes a key
            harness.fresh()
            harness.inject(Faults.status(status, body_for(key)), times=3, path_contains="/v1/")
            # WHEN the agent calls (2 s of budget: no time for retries, one answer per call)
            run = harness.run(load_event(route), timeout_seconds=2)
            # THEN the answer holds no key, no key-shaped text and no bearer token, however disguised
            exposed = secrets_exposed(json.dumps(run.answer.raw), key)  # as Bedrock receives it
            exposed += secrets_exposed(json.dumps(run.answer.body, ensure_ascii=False), key)  # as the model reads it
            COUNTS.leaks += len(exposed)
            assert not exposed, f"{status} on {route}, {disguise}: {exposed}"
            assert run.answer.body.get("error") != "internal_error", (route, disguise)
    # AND neither does any log line the function wrote
    exposed = secrets_exposed(log_output.getvalue(), key)
    COUNTS.leaks += len(exposed)
    assert not exposed


def test_the_scrubbed_error_still_tells_the_model_what_multimail_said(harness: Harness) -> None:
    # GIVEN a refusal whose text quotes the key among useful words
    key = harness.standin.agent_key
    harness.inject(
        Faults.status(400, json.dumps({"error": f"recipient refused; key Bearer {key}"})), path_contains="/send"
    )
    # WHEN the agent sends
    run = harness.run(load_event("send"), timeout_seconds=2)
    # THEN the useful words survive (as MultiMail's own text, marked untrusted), the key replaced by a marker
    assert run.answer.status == 400
    assert run.answer.body["untrusted"]["multimail_error"] == "recipient refused; key Bearer [redacted]"
    assert key not in json.dumps(run.answer.raw)


@pytest.mark.parametrize("route", ["read_email", "inbox"])
def test_the_key_inside_a_successful_answer_is_redacted(harness: Harness, route: str) -> None:
    # GIVEN MultiMail's success answer somehow holds the key (an email quoting it, a cursor built from it)
    key = harness.standin.agent_key
    document = {
        "id": "em_seed_invoice",
        "subject": f"Your key is {key}",
        "markdown": f"Use {json_escaped(key)} and {key}",
        "emails": [{"id": "em_1", "subject": f"key {key}", "from": "a@example.com"}],
        "next_cursor": f"c-{key}",
    }
    body = json.dumps(document).replace(json_escaped(key).replace("\\", "\\\\"), json_escaped(key))
    harness.inject(Faults.status(200, body), times=3, path_contains="/v1/")
    # WHEN the agent reads
    run = harness.run(load_event(route), timeout_seconds=2)
    # THEN the answer is there, without the key
    assert run.answer.status == 200, run.answer.body
    assert "[redacted]" in json.dumps(run.answer.body)
    assert key not in json.dumps(run.answer.raw, ensure_ascii=False)
    assert key not in unfolded(json.dumps(run.answer.body, ensure_ascii=False))


# -- partial and encoded quotes (issue 20, item 8) ------------------------------------------------


def b64(text: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(text.encode()).decode()


def distinctive(key: str) -> str:
    return re.sub(r"^mm_[a-z0-9]+_", "", key, flags=re.IGNORECASE)


# How an upstream text may quote the key in part or encoded: each takes the key, gives the error text.
ENCODED_QUOTES: dict[str, Callable[[str], str]] = {
    "without its prefix": lambda k: f"unknown key {distinctive(k)}",
    "dashes for underscores": lambda k: f"unknown key {k.replace('_', '-')}",
    "spaced out": lambda k: f"unknown key {' '.join(k)}",
    "cut short": lambda k: f"unknown key {k[:-3]}...",
    "base64 of the key": lambda k: f"token {b64(k)} refused",
    "base64 of the bearer header": lambda k: f"header {b64('Bearer ' + k)} refused",
    "base64 at an odd alignment": lambda k: f"blob={b64('xy:' + distinctive(k))}",
    "url-safe base64 of the random part": lambda k: f"id {b64(distinctive(k), urlsafe=True)}",
    "hex of the key": lambda k: f"key hex {k.encode().hex()}",
    "hex of the bearer header, upper case": lambda k: f"{('Bearer ' + k).encode().hex().upper()}",
    "reversed": lambda k: f"yek {k[::-1]}",
    "a Cyrillic letter": lambda k: f"key {k.replace('a', chr(0x430))}",
    "a digit for a letter": lambda k: f"key {k.replace('i', '1')}",
    "fullwidth without prefix": lambda k: f"key {fullwidth(distinctive(k))}",
}


def undone(text: str) -> list[str]:
    """The text read every way a quote above could be read back: decoded words, reversed, folded."""
    readings = [text, text[::-1]]
    for word in re.findall(r"[A-Za-z0-9+/_=-]{12,}", text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode, bytes.fromhex):
            with contextlib.suppress(ValueError):
                readings.append(decode(word).decode("latin-1"))
    folded = []
    for reading in readings:
        plain = unicodedata.normalize("NFKC", reading).casefold().replace(chr(0x430), "a").replace("1", "i")
        folded.append(re.sub(r"[\s_\-.]", "", plain))
    return folded


def quotes_the_key(text: str, key: str) -> bool:
    needle = re.sub(r"[_\-]", "", distinctive(key)).casefold()
    size = min(len(needle), 12)
    fragments = {needle[i : i + size] for i in range(len(needle) - size + 1)}
    return any(fragment in reading for reading in undone(text) for fragment in fragments)


@pytest.mark.parametrize("disguise", ENCODED_QUOTES, ids=list(ENCODED_QUOTES))
def test_a_partial_or_encoded_quote_of_the_key_is_redacted(
    harness: Harness, log_output: io.StringIO, disguise: str
) -> None:
    key = harness.standin.agent_key
    quote = ENCODED_QUOTES[disguise](key)
    assert quotes_the_key(quote, key)  # the detector sees the disguise it is given
    for status in (400, 401, 403, 429, 500):
        for route in ("send", "inbox"):
            # GIVEN MultiMail's (or a proxy's) error text quotes the key in part or encoded
            harness.fresh()
            harness.inject(Faults.status(status, json.dumps({"error": quote})), times=3, path_contains="/v1/")
            # WHEN the agent calls
            run = harness.run(load_event(route), timeout_seconds=2)
            # THEN nothing in the answer reads back as the key, however decoded
            seen = json.dumps(run.answer.body, ensure_ascii=False)
            leaked = quotes_the_key(seen, key)
            COUNTS.leaks += int(leaked)
            assert not leaked, f"{status} on {route}: {seen}"
    # AND no log line does either
    leaked = quotes_the_key(log_output.getvalue(), key)
    COUNTS.leaks += int(leaked)
    assert not leaked


def test_the_redaction_keeps_the_words_around_the_quote(harness: Harness) -> None:
    # GIVEN a refusal that quotes the key in base64 among useful words
    key = harness.standin.agent_key
    harness.inject(Faults.status(400, json.dumps({"error": f"recipient refused; token {b64(key)} invalid"})))
    # WHEN the agent sends
    run = harness.run(load_event("send"), timeout_seconds=2)
    # THEN the useful words survive and the encoded key is replaced by the marker
    assert run.answer.body["untrusted"]["multimail_error"] == "recipient refused; token [redacted] invalid"
