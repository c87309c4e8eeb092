"""How an answer reaches the model: what it costs in the response Bedrock receives, and what
third-party text may look like when it gets there.

Size. The resolver writes the answer as a JSON string without ASCII escapes (`serialize`); that
string is the `body` of the Lambda response, which the runtime may serialize with `json.dumps`
defaults (ASCII escapes on). So one character of the answer can cost up to 12 bytes of what Bedrock
receives: `é` is `\\u00e9`, an emoji a surrogate pair of escapes, a quote `\\\\\\"`. `cost` measures
exactly that (the body's contribution to the serialized response) and the use cases fit every
answer to `ANSWER_BUDGET`, which leaves room for the response's envelope under Bedrock's 25 KB.

Neutralisation. Text under `untrusted` keys was written by strangers. `neutralise` makes sure it
cannot imitate the structure of the prompt the model reads: `<` and `>` become the single angle
quotation marks U+2039 and U+203A (so no `</function_results>`, `<system>` or `<|im_start|>` tag
survives), the bracket tokens of chat templates (`[INST]`, `[/INST]`, `<<SYS>>`) get full-width
brackets, and control and invisible format characters (bidi overrides, zero-width spaces, BOM, tag
characters) become U+FFFD, visibly. Each character maps to exactly one character, so offsets into a
body stay true. Zero-width joiners (emoji sequences, Indic and Persian scripts), and tab and line
breaks in bodies, are kept; single-line fields get a space for a line break.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache, partial
from typing import Any

from aws_lambda_powertools.shared.json_encoder import Encoder

BEDROCK_LIMIT_BYTES = 25_000  # the most a response to a Bedrock agent may hold
RESPONSE_BUDGET_BYTES = 24_000  # what the function allows itself, all in
ENVELOPE_BYTES = 1_000  # messageVersion, actionGroup (Bedrock allows 100 characters), apiPath, method, status
ANSWER_BUDGET = RESPONSE_BUDGET_BYTES - ENVELOPE_BYTES

# The resolver's serializer: compact, and no ASCII escapes, so nothing is escaped twice.
serialize = partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder)

REPLACEMENT = "\ufffd"
_KEPT_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiner: emoji sequences, Indic and Persian text
_LINE_BREAKS = {"\n", "\r", "\t"}
_CHAT_TOKENS = re.compile(r"\[/?INST\]|\[/?SYS\]|<</?SYS>>", re.IGNORECASE)


def cost(answer: Any) -> int:
    """Bytes the answer adds to the serialized response: its JSON, escaped again as a string."""
    return len(json.dumps(serialize(answer)))


@lru_cache(maxsize=8192)
def char_cost(character: str) -> int:
    """What one character of a string value costs in the serialized response (1 to 12)."""
    return len(json.dumps(json.dumps(character, ensure_ascii=False))) - 6  # less the two pairs of quotes


def text_cost(text: str) -> int:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text)  # the common case, without a loop
    return sum(char_cost(c) for c in text)


def fitting_end(text: str, start: int, budget: int) -> int:
    """The largest end such that text[start:end] costs at most `budget`."""
    spent = 0
    end = start
    while end < len(text):
        spent += char_cost(text[end])
        if spent > budget:
            break
        end += 1
    return end


def cut_to_cost(text: str, budget: int) -> str:
    """`text` if it costs at most `budget`, else its head and `…` within the budget."""
    if text_cost(text) <= budget:
        return text
    return text[: fitting_end(text, 0, budget - char_cost("…"))] + "…"


def neutralise(text: str, *, multiline: bool = False) -> str:
    """Third-party text that cannot pass for prompt markup or hide characters; same length as `text`."""
    if text.isascii() and text.isprintable() and "<" not in text and ">" not in text and "[" not in text:
        return text
    text = _CHAT_TOKENS.sub(_fullwidth_brackets, text)
    return "".join(_neutral_character(c, multiline) for c in text)


def _fullwidth_brackets(match: re.Match[str]) -> str:
    return match.group(0).translate(_FULLWIDTH)


LEFT_ANGLE, RIGHT_ANGLE = "\u2039", "\u203a"  # what `<` and `>` become
_FULLWIDTH = str.maketrans({"[": "\uff3b", "]": "\uff3d", "<": LEFT_ANGLE, ">": RIGHT_ANGLE})


@lru_cache(maxsize=8192)
def _neutral_character(character: str, multiline: bool) -> str:
    if character == "<":
        return LEFT_ANGLE
    if character == ">":
        return RIGHT_ANGLE
    if character in _LINE_BREAKS:
        return character if multiline else " "
    if character in ("\u2028", "\u2029", "\x85"):  # Unicode line and paragraph breaks
        return "\n" if multiline else " "
    if character in _KEPT_FORMAT:
        return character
    if unicodedata.category(character) in ("Cc", "Cf", "Cs"):  # controls, invisible format, lone surrogates
        return REPLACEMENT
    return character
