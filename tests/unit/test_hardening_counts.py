"""The hardening matrix's bookkeeping: which numbers must be zero, and how the table shows them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hardening.counts import MUST_BE_ZERO, Counts, load, table


def test_every_must_be_zero_number_fails_the_matrix_when_not_zero() -> None:
    # GIVEN clean counts THEN nothing fails
    assert Counts().failures() == {}
    for name in ("crashes", "duplicates", "leaks", "oversize", "stray_paths", "wrongly_blocked"):
        # WHEN one of the must-be-zero numbers is not zero THEN it is named among the failures
        counts = Counts()
        setattr(counts, name, 2)
        assert counts.failures() == {name: 2}


def test_the_table_shows_each_must_be_zero_number() -> None:
    counts = Counts(oversize=3, stray_paths=4, wrongly_blocked=5)
    shown = table([counts])
    for label in MUST_BE_ZERO.values():
        assert label in shown
    assert "| **Stray paths** (a request reached a MultiMail path other than the action's) | 4 |" in shown


def test_a_counts_file_from_before_the_new_numbers_still_loads(tmp_path: Path) -> None:
    # GIVEN a counts file written before oversize, stray_paths and wrongly_blocked existed
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"inputs": 7, "crashes": 0, "by_area": {"faults": 7}, "profile": "fuzz"}))
    # WHEN it is loaded THEN the new numbers read as zero
    counts = load(old)
    assert (counts.inputs, counts.oversize, counts.stray_paths, counts.wrongly_blocked) == (7, 0, 0, 0)
