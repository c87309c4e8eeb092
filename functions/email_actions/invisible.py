"""Characters a reader cannot see: the one list, and the rule for subjects, bodies and addresses.

The person who approves an email must see every character that will be sent. A character that
renders as nothing (a zero-width space, a tag character, a Hangul filler) can carry hidden text or
instructions, split a word a filter looks for, or make two strings look alike; a bidi control
reorders what is shown. Such characters are refused, except where a script or an emoji needs them
and their effect is what the reader sees:

- a zero-width joiner between two emoji (👨‍👩‍👧: the reader sees the one joined emoji),
- tag characters spelling one of the three recommended subdivision flags (🏴 + tags + CANCEL TAG:
  England, Scotland, Wales; the reader sees the flag),
- a zero-width joiner or non-joiner between two letters of a script that joins or conjuncts its
  letters (Arabic, Persian, Indic...: the reader sees the letters joined or apart),
- one variation selector 15 or 16 after an emoji, or in a keycap (☺️, 1️⃣: text or emoji style),
- in bodies only, the left-to-right, right-to-left and Arabic letter marks (right-to-left prose
  with numbers needs them; they move neutral punctuation, never letters).

Everything else in HIDDEN is refused wherever it is. docs/hardening.md states the rule.
"""

from __future__ import annotations

import re
import unicodedata

# The characters that render as nothing (or only reorder others), by range, with what they are.
HIDDEN: tuple[tuple[int, int, str], ...] = (
    (0x00AD, 0x00AD, "soft hyphen"),
    (0x034F, 0x034F, "combining grapheme joiner"),
    (0x061C, 0x061C, "Arabic letter mark"),
    (0x115F, 0x1160, "Hangul choseong and jungseong fillers"),
    (0x17B4, 0x17B5, "Khmer inherent vowels"),
    (0x180B, 0x180F, "Mongolian variation selectors and vowel separator"),
    (0x200B, 0x200F, "zero-width space, non-joiner, joiner, direction marks"),
    (0x202A, 0x202E, "bidi embeddings and overrides"),
    (0x2060, 0x2064, "word joiner and invisible operators"),
    (0x2066, 0x206F, "bidi isolates and deprecated format characters"),
    (0x3164, 0x3164, "Hangul filler"),
    (0xFE00, 0xFE0F, "variation selectors"),
    (0xFEFF, 0xFEFF, "zero-width no-break space (byte order mark)"),
    (0xFFA0, 0xFFA0, "halfwidth Hangul filler"),
    (0xFFF9, 0xFFFB, "interlinear annotation controls"),
    (0x1BCA0, 0x1BCA3, "shorthand format controls"),
    (0x1D173, 0x1D17A, "musical formatting controls"),
    (0xE0000, 0xE007F, "tag characters"),
    (0xE0100, 0xE01EF, "variation selectors supplement"),
)

_HIDDEN = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high, _ in HIDDEN) + "]")

ZWNJ, ZWJ = "\u200c", "\u200d"
_EMOJI_STYLE = frozenset("\ufe0e\ufe0f")
_DIRECTION_MARKS = frozenset("\u200e\u200f\u061c")  # allowed in bodies only
# The flags spelled with tags that Unicode recommends (RGI): England, Scotland, Wales. Any other
# tag text could carry hidden words, a few letters per flag.
_TAGGED_FLAGS = ("gbeng", "gbsct", "gbwls")
_FLAG_TAGS = re.compile(
    "\U0001f3f4(" + "|".join("".join(chr(0xE0000 + ord(c)) for c in flag) for flag in _TAGGED_FLAGS) + ")\U000e007f"
)
_KEYCAP, _KEYCAP_BASES = "\u20e3", frozenset("0123456789#*")  # 1️⃣: digit, VS-16, combining keycap
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_JOINING_SCRIPTS_FROM = 0x0590  # Hebrew onwards: Arabic, Syriac, N'Ko, the Indic scripts, Mongolian...


def first_hidden(text: str, *, body: bool = False) -> str | None:
    """The first character of `text` the reader could not see (per the rule above), or None."""
    flag_tags = {i for found in _FLAG_TAGS.finditer(text) for i in range(found.start(1), found.end())}
    for found in _HIDDEN.finditer(text):
        at, character = found.start(), found.group()
        if at in flag_tags:
            continue
        if body and character in _DIRECTION_MARKS:
            continue
        before = text[at - 1] if at else ""
        after = text[at + 1] if at + 1 < len(text) else ""
        if character in _EMOJI_STYLE and (_is_emoji(before) or (before in _KEYCAP_BASES and after == _KEYCAP)):
            continue
        if character == ZWJ and _emoji_end(text, at) and _is_emoji(after):
            continue
        if character in (ZWJ, ZWNJ) and _joining_letter(before) and _joining_letter(after):
            continue
        return character
    return None


def describe(character: str) -> str:
    """U+200B (ZERO WIDTH SPACE): how an answer names a character."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" ({name})" if name else "")


def _is_emoji(character: str) -> bool:
    return bool(character) and (unicodedata.category(character) == "So" or ord(character) in _SKIN_TONES)


def _emoji_end(text: str, at: int) -> bool:
    """An emoji ends just before `at` (perhaps with its style selector or skin tone)."""
    before = text[at - 1] if at else ""
    if before in _EMOJI_STYLE and at >= 2:
        before = text[at - 2]
    return _is_emoji(before)


def _joining_letter(character: str) -> bool:
    return (
        bool(character)
        and ord(character) >= _JOINING_SCRIPTS_FROM
        and unicodedata.category(character)[0] in "LM"
        and not _HIDDEN.match(character)
    )
