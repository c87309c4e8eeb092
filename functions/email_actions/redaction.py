"""Finding the API key in upstream text however it is quoted, so that it can be redacted.

An upstream error may quote the key it refused in part or in disguise: without its `mm_live_`
prefix, with `-` for `_`, spaced out, upper-cased, reversed, with a look-alike letter (a Cyrillic
letter, a `1` for an `l`), or encoded in base64 or hex (the key alone, or the whole `Bearer <key>`
header). The key's distinctive part (what follows `mm_<kind>_`) is compared with the text in a
folded form where all of those differences vanish; any run of FRAGMENT_CHARS of it, forwards or
backwards, is redacted together with the word it stands in. Base64 and hex words are decoded (at
every alignment) and redacted whole when what they hold quotes the key.

Written here because no library redacts a known secret in disguised forms; the confusables come
from confusable-homoglyphs (addresses.ascii_twin), loaded only when the text is not ASCII.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Sequence
from contextlib import suppress

from email_actions import addresses

FRAGMENT_CHARS = 12  # this many characters of the key's random part, in order, count as quoting it
REDACTED = "[redacted]"
_KEY_PREFIX = re.compile(r"^mm_[A-Za-z0-9]+_", re.IGNORECASE)
_SEPARATORS = frozenset(" \t\r\n-_.:/\\'\"`,;+*~|=")
_ASCII_LOOKALIKES = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})  # after casefolding
_WORD = re.compile(r"[\w\-+/=.:~]+")  # a word the key could stand in (or a base64 or hex word)
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_\-]{12,}={0,2}")
_HEX_WORD = re.compile(r"(?:[0-9A-Fa-f]{2}[\s:]?){8,}")


def distinctive_part(secret: str) -> str:
    """What identifies the key: all of it but the `mm_<kind>_` prefix every key shares."""
    return _KEY_PREFIX.sub("", secret) or secret


def _fold_character(character: str) -> str:
    folded = []
    for part in unicodedata.normalize("NFKC", character).casefold():
        if part in _SEPARATORS or part.isspace() or unicodedata.category(part) == "Cf":
            continue
        twin = part if part.isascii() else addresses.ascii_twin(part)
        folded.append((twin or part).casefold().translate(_ASCII_LOOKALIKES))
    return "".join(folded)


def _folded(text: str) -> tuple[str, list[int]]:
    """The text folded, and for each folded character the index of the text's character it came from."""
    characters: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        for part in _fold_character(character):
            characters.append(part)
            origin.append(index)
    return "".join(characters), origin


def _fragments(secrets: Sequence[str]) -> set[str]:
    pieces: set[str] = set()
    for secret in secrets:
        needle, _ = _folded(distinctive_part(secret))
        size = min(len(needle), FRAGMENT_CHARS)
        if size < 4:  # too short to tell from ordinary text
            continue
        for candidate in (needle, needle[::-1]):
            pieces.update(candidate[i : i + size] for i in range(len(candidate) - size + 1))
    return pieces


def _quotes(folded: str, pieces: set[str]) -> list[tuple[int, int]]:
    """The spans of `folded` made of the key's fragments."""
    if not pieces:
        return []
    size = len(next(iter(pieces)))
    spans: list[tuple[int, int]] = []
    for start in range(len(folded) - size + 1):
        if folded[start : start + size] in pieces:
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], start + size)
            else:
                spans.append((start, start + size))
    return spans


def _decoded_forms(word: str) -> list[str]:
    """What a base64 or hex word may hold, at each alignment, as Latin-1 text."""
    forms: list[str] = []
    compact = re.sub(r"[\s:]", "", word)
    if re.fullmatch(r"[0-9A-Fa-f]+", compact):
        for offset in (0, 1):
            chunk = compact[offset:]
            with suppress(binascii.Error, ValueError):
                forms.append(binascii.unhexlify(chunk[: len(chunk) // 2 * 2]).decode("latin-1"))
    core = word.rstrip("=")
    for offset in range(4):
        chunk = core[offset:]
        chunk = chunk[: len(chunk) // 4 * 4]
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with suppress(binascii.Error, ValueError):
                forms.append(decode(chunk + "=" * (-len(chunk) % 4)).decode("latin-1"))
    return forms


def redact_key(text: str, secrets: Sequence[str]) -> str:
    """`text` with every quote of the secrets' distinctive parts replaced by REDACTED."""
    pieces = _fragments([s for s in secrets if s])
    if not pieces or not text:
        return text
    folded, origin = _folded(text)
    spans = [(origin[start], origin[end - 1] + 1) for start, end in _quotes(folded, pieces)]
    for word in (*_BASE64_WORD.finditer(text), *_HEX_WORD.finditer(text)):
        if any(_quotes(_folded(form)[0], pieces) for form in _decoded_forms(word.group())):
            spans.append(word.span())
    if not spans:
        return text
    return _replaced(text, spans)


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    """Each span, widened to the whole word around it, replaced by one REDACTED."""
    widened: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        while start > 0 and _WORD.fullmatch(text[start - 1]):
            start -= 1
        while end < len(text) and _WORD.fullmatch(text[end]):
            end += 1
        if widened and start <= widened[-1][1]:
            widened[-1] = (widened[-1][0], max(end, widened[-1][1]))
        else:
            widened.append((start, end))
    pieces: list[str] = []
    last = 0
    for start, end in widened:
        pieces += [text[last:start], REDACTED]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
