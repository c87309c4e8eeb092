"""Upstream text that quotes the key never reaches the model or a log line.

An error from MultiMail (or a proxy) may quote the Authorization header it refused. Every status
on every route gets bodies that quote the current key, other MultiMail-shaped keys and bearer
tokens, plainly and disguised (JSON escapes, percent escapes, HTML entities, fullwidth letters, a
zero-width space inside). The answer and the function's log lines are searched for the key after
undoing those disguises.
"""

from __future__ import annotations

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
