"""Recipient addresses as a model writes them: lists split, each address checked, spoofs refused,
look-alike domains found.

- Syntax is email-validator's (RFC 5321/5322 and SMTPUTF8, no DNS): `a..b@x.com`, `.a@x.com`,
  `user@exa_mple.com` are refused. Lists split at commas outside quotes, so
  `"Doe, John" <john@example.com>` is one recipient (see `split_list` for why not getaddresses).
- Nothing invisible may hide in an address or its display name (invisible.py's list, and every
  control, format, private-use or unassigned code point).
- A display name that shows an address other than the one the email goes to is refused, in every
  form a reader would take for an address: fullwidth or small @ (folded by NFKC), `&#64;`,
  `%40`, `\\u0040`, `(at)`, `[at]`, ` at `, spaces around the @.
- A domain label is a look-alike when it mixes scripts that are not written together, or when
  every character of it has a plain ASCII confusable (apple.com spelled in Cyrillic). The confusables
  and script data (confusable-homoglyphs) are loaded only for a label that is not ASCII.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache
from typing import Any
from urllib.parse import unquote

from email_actions import invisible

MAX_WRITTEN_ADDRESS_CHARS = 512  # a display name and an address; longer is not a recipient
QUOTE_CHARS = 80
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMED_ADDRESS = re.compile(r"^([^<>]*)<([^<>]+)>$")
# Address-like text in a display name, once folded: something@something.
_ADDRESS_LIKE = re.compile(r"[^\s<>\"'(),;:\[\]@]+@[^\s<>\"'(),;:\[\]@]+")
# Written-out at signs: (at) [at] {at} <at>, and " at " between an address's parts (then the
# domain must be dotted, so that "Sales at Acme" stays a name).
_BRACKETED_AT = re.compile(r"\s*[(\[{<]\s*at\s*[)\]}>]\s*", re.IGNORECASE)
_WORD_AT = re.compile(r"(?<=[\w.+-])\s+at\s+(?=[\w-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\bdot\b)\s*[\w-]+)+)", re.IGNORECASE)
_WRITTEN_DOT = re.compile(r"\s*(?:[(\[{]\s*dot\s*[)\]}]|\s\bdot\b\s)\s*", re.IGNORECASE)
_ENTITY_OPEN = re.compile(r"&(?:amp;)*#?\w{1,32}$")  # `&#64;`: its semicolon ends an entity, not an item
# email-validator refuses special-use names (RFC 6761) after every syntax check has passed; whether
# such an address can receive mail is MultiMail's call (the stand-in's own domain is one).
_RESERVED_NAME = "special-use or reserved name"
_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")


def quoted(value: str, limit: int = QUOTE_CHARS) -> str:
    """A value as an error message may show it: in quotes, and cut."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def split_list(text: str) -> list[str]:
    """One recipient per item, from text separated by commas or semicolons; a comma inside a quoted
    display name (`"Doe, John" <john@example.com>`) does not split.

    Not `email.utils.getaddresses`: it returns what it could salvage, silently (it drops a group
    name or stray words, `{"to": "ana@example.com"}` becomes ana@example.com, and it joins words,
    `bob@exa mple.com` becomes bob@example.com), so what is sent could differ from what was
    written. Each item here is checked whole by `check_address`.
    """
    items: list[str] = []
    current: list[str] = []
    quoted_name = escaped = False
    for character in text:
        if escaped:
            escaped = False
        elif character == "\\" and quoted_name:
            escaped = True
        elif character == '"':
            quoted_name = not quoted_name
        elif character in ",;" and not quoted_name and not (character == ";" and _ENTITY_OPEN.search("".join(current))):
            items.append("".join(current))
            current = []
            continue
        current.append(character)
    items.append("".join(current))
    return [item for item in items if item.strip()]


def check_address(value: str) -> str:
    """The bare address of one recipient as written ("Bob <bob@example.com>" or the address alone).

    Raises ValueError, with words a model can act on, when it is no address, hides a character,
    or shows one address while the email would go to another.
    """
    if len(value) > MAX_WRITTEN_ADDRESS_CHARS:
        raise ValueError(f"{quoted(value)} is not an email address (it is {len(value)} characters long)")
    for character in value:
        if unicodedata.category(character) in _INVISIBLE_CATEGORIES or invisible.first_hidden(character):
            raise ValueError(
                f"{quoted(value)} contains the invisible or control character {invisible.describe(character)}, "
                "which can make one address look like another: write the address without it"
            )
    candidate = value.strip()
    display_name = ""
    named = _NAMED_ADDRESS.match(candidate)  # "Bob <bob@example.com>" is how people write it
    if named:
        display_name, candidate = named.group(1).strip(), named.group(2).strip()
    # The name as written and without its quotes: a reader may see either.
    for shown in {*shown_addresses(display_name), *shown_addresses(_unquoted(display_name))}:
        if shown.casefold() != unicodedata.normalize("NFKC", candidate).casefold():
            raise ValueError(
                f"the display name shows the address {quoted(shown, 60)}, but the email would go to "
                f"{quoted(candidate, 100)}: write only the address the user asked for"
            )
    problem = _syntax_problem(candidate)
    if problem is not None:
        raise ValueError(f"{quoted(value)} is not an email address ({problem})")
    return candidate


def _unquoted(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return re.sub(r"\\(.)", r"\1", name[1:-1])
    return name


def shown_addresses(display_name: str) -> list[str]:
    """The addresses a reader would see in a display name, every disguise undone."""
    if not display_name:
        return []
    return _ADDRESS_LIKE.findall(_unfolded(display_name))


def _unfolded(text: str) -> str:
    for _ in range(3):  # &amp;#64; and %2540 are encoded twice
        previous = text
        text = unquote(html.unescape(text))
        text = _ESCAPED.sub(lambda found: chr(int(found.group(1) or found.group(2), 16)), text)
        if text == previous:
            break
    text = unicodedata.normalize("NFKC", text)  # fullwidth (U+FF20) and small (U+FE6B) at signs become @
    text = _BRACKETED_AT.sub("@", text)
    text = _WORD_AT.sub("@", text)
    text = _WRITTEN_DOT.sub(".", text) if "@" in text else text
    return re.sub(r"\s*@\s*", "@", text)


def _syntax_problem(address: str) -> str | None:
    """What is wrong with the address's syntax (email-validator's words), or None."""
    from email_validator import EmailNotValidError, validate_email  # its tables compile on first use

    if len(address) > 254:
        return "it is longer than 254 characters"
    try:
        validate_email(
            address,
            check_deliverability=False,  # no DNS: MultiMail makes the final call on deliverability
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            strict=True,  # also the 64-character limit of the part before the @ (RFC 5321)
        )
    except EmailNotValidError as error:
        if _RESERVED_NAME in str(error):  # `.local`, `.test`...: deliverability, which MultiMail decides
            return None
        return str(error).rstrip(".")
    if len(address.rpartition(".")[2]) < 2:  # email-validator accepts `x.c`; no top-level domain is one letter
        return "the top-level domain has fewer than two characters"
    return None


# -- look-alike domains ---------------------------------------------------------------------------

# Scripts that one domain label may legitimately combine (Unicode TS 39, "highly restrictive").
_SCRIPT_FAMILIES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_SHARED_SCRIPTS = frozenset({"COMMON", "INHERITED"})  # digits, hyphens, marks, 々 〆 ー: every script's


@cache
def _confusables() -> tuple[Any, Any]:
    """confusable-homoglyphs' script and confusables tables (about 1 MB of JSON, loaded once)."""
    from confusable_homoglyphs import categories, confusables  # type: ignore[import-untyped]  # untyped

    return categories, confusables.confusables_data


def _script(character: str) -> str:
    categories, _ = _confusables()
    try:
        return str(categories.alias(character)).upper()
    except (KeyError, IndexError, TypeError, ValueError):
        return "UNKNOWN"


def ascii_twin(character: str) -> str | None:
    """The plain ASCII text `character` is confusable with, if any."""
    if character.isascii():
        return character
    _, data = _confusables()
    for homoglyph in data.get(character, ()):
        twin = str(homoglyph.get("c", ""))
        if twin.isascii() and twin.isprintable() and twin.strip():
            return twin
    return None


def lookalike_label(label: str) -> bool:
    if label.lower().startswith("xn--"):
        try:
            label = label.encode("ascii").decode("idna")
        except UnicodeError:
            return False  # not valid punycode: MultiMail refuses or bounces it
    if label.isascii():
        return False
    if unicodedata.normalize("NFKC", label) != label:  # fullwidth, mathematical, ligature letters
        return True
    scripts = {_script(c) for c in label} - _SHARED_SCRIPTS
    if len(scripts) > 1 and not any(scripts <= family for family in _SCRIPT_FAMILIES):
        return True
    # A whole-script look-alike: its confusable skeleton is plain ASCII (apple in Cyrillic).
    return all(ascii_twin(c) is not None for c in label)


def is_lookalike(address: str) -> bool:
    """True when a label of the address's domain mixes scripts (`paypal.com` with a Cyrillic U+0430
    for its first `a`) or is written entirely in characters that look like ASCII (apple.com in Cyrillic)."""
    domain = address.rpartition("@")[2]
    return any(lookalike_label(label) for label in domain.split("."))
