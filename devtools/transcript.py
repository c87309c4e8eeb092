"""The demo's transcript: what a reader wants to see of a session, within 100 columns, coloured only on
a terminal."""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable
from typing import TextIO

WIDTH = 100  # the transcript fits a 100-column terminal
LABEL_WIDTH = 12


class Style:
    """ANSI colour when the output is a terminal (and NO_COLOR is unset); plain text otherwise."""

    def __init__(self, out: TextIO) -> None:
        isatty = getattr(out, "isatty", None)
        self.enabled = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._paint("1", text)

    def dim(self, text: str) -> str:
        return self._paint("2", text)

    def status(self, code: int) -> str:
        return self._paint("32" if code < 300 else "33" if code < 500 else "31", str(code))

    def agent(self, text: str) -> str:
        return self._paint("36", text)

    def human(self, text: str) -> str:
        return self._paint("1;35", text)


def cut(text: str, limit: int) -> str:
    """One line of at most `limit` characters: whitespace collapsed, the rest replaced by an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


class Transcript:
    """Writes the session as a reader wants it: who asked, what was called, what came back."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.style = Style(out)

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def field(
        self, label: str, text: str, *, lines: int = 4, indent: int = 4, paint: Callable[[str], str] | None = None
    ) -> None:
        """`label  text`, wrapped under itself within WIDTH, at most `lines` lines; `paint` colours the label."""
        room = WIDTH - indent - LABEL_WIDTH
        wrapped = textwrap.wrap(re.sub(r"\s*\n\s*", " ", text), room) or [""]
        if len(wrapped) > lines:
            wrapped = [*wrapped[: lines - 1], cut(" ".join(wrapped[lines - 1 :]), room)]
        pad = " " * indent
        shown = (paint or str)(label) + " " * max(LABEL_WIDTH - len(label), 1)
        self.line(f"{pad}{shown}{wrapped[0]}")
        for rest in wrapped[1:]:
            self.line(f"{pad}{'':<{LABEL_WIDTH}}{rest}")

    def detail(self, text: str, *, indent: int = 6) -> None:
        """One line under the answer, cut to WIDTH (its spacing kept: rows line up)."""
        room = WIDTH - indent
        line = text if len(text) <= room else text[: room - 1] + "…"
        self.line(" " * indent + line)
