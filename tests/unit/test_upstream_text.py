"""The adapter's reading of upstream text, without a server: what is scrubbed, and what is kept."""

from __future__ import annotations

import json

import pytest

from email_actions.multimail import MAX_ERROR_TEXT_CHARS, REDACTED, _error_text

KEY = "mm_live_unit_test_key_0123456789"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("recipient refused: no such domain", "recipient refused: no such domain"),
        ("the token provided has expired", "the token provided has expired"),
        ("the basic plan allows 200 emails a month", "the basic plan allows 200 emails a month"),
        ("comm_test_add failed; summ_live_x is fine", "comm_test_add failed; summ_live_x is fine"),
        ("line one\nline two\ttabbed", "line one line two tabbed"),
    ],
)
def test_ordinary_error_text_is_kept(said: str, kept: str) -> None:
    # GIVEN an error message with words that resemble credential labels but hold none
    # WHEN it is read THEN it reaches the model unchanged (white space folded)
    assert _error_text(json.dumps({"error": said}).encode(), [KEY]) == kept


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        (f"invalid key {KEY}", f"invalid key {REDACTED}"),
        (f"Authorization: Bearer {KEY}", f"Authorization: Bearer {REDACTED}"),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {REDACTED}"),
        ("bearer abc.def.ghi was revoked", f"bearer {REDACTED} was revoked"),
        ("api_key=abc123, token: xyz", f"api_key={REDACTED}, token: {REDACTED}"),
        ("key mm_test_AbC-123 and MM_LIVE_X", f"key {REDACTED} and {REDACTED}"),
        (f"key {KEY.upper()}", f"key {REDACTED}"),
    ],
)
def test_keys_and_tokens_are_replaced_by_a_marker(said: str, shown: str) -> None:
    # GIVEN an error message that quotes a key or a token WHEN it is read THEN only the secret is replaced
    assert _error_text(json.dumps({"error": said}).encode(), [KEY]) == shown


def test_a_long_message_is_cut_after_scrubbing() -> None:
    # GIVEN a long message whose key would straddle the cut
    said = "x " * (MAX_ERROR_TEXT_CHARS // 2 - 5) + KEY
    # WHEN it is read THEN it is short and holds no part of the key
    text = _error_text(json.dumps({"error": said}).encode(), [KEY])
    assert len(text) <= MAX_ERROR_TEXT_CHARS
    assert "mm_live" not in text


@pytest.mark.parametrize("body", [b"<html>502</html>", b'{"error": 42}', b'["error"]', b"[" * 5000, b""])
def test_bodies_without_a_message_give_no_text(body: bytes) -> None:
    assert _error_text(body, [KEY]) == ""
