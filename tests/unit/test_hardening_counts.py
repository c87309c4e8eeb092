"""The hardening matrix's bookkeeping: which numbers must be zero, and how the table shows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tests.hardening.counts as counts_module
from tests.hardening.conftest import stray_paths
from tests.hardening.counts import MUST_BE_ZERO, Counts, counts_file, load, main, table


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


def test_the_table_is_printed_from_the_per_profile_counts_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the last fast and fuzz runs' counts, each in its own file, in the build folder
    monkeypatch.setattr(counts_module, "COUNTS_DIR", tmp_path)
    counts_file("fast").write_text(Counts(inputs=11, profile="fast").to_json())
    counts_file("fuzz").write_text(Counts(inputs=2_222, profile="fuzz").to_json())
    # WHEN `make hardening-table` runs (the module's main, without arguments)
    status = main([])
    # THEN it prints one table with a column for each, named by its make target
    shown = capsys.readouterr().out
    assert status == 0
    assert "| What | `make test` (fast profile) | `make fuzz` (fuzz profile) |" in shown
    assert "| **Inputs tried, in all** | **11** | **2,222** |" in shown


def test_without_counts_files_the_table_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a build folder without counts WHEN the table is asked for THEN it fails and names the command
    monkeypatch.setattr(counts_module, "COUNTS_DIR", tmp_path)
    assert main([]) == 1
    assert "run `make test`" in capsys.readouterr().err


def test_a_request_to_its_own_path_is_not_stray_whatever_the_method_case() -> None:
    # GIVEN an inbox event whose method a mutation wrote in lower case (the resolver still routes it)
    event = {"httpMethod": "get", "apiPath": "/inbox"}
    # WHEN its requests are checked THEN its own endpoint is allowed and any other one is stray
    assert stray_paths(event, ["/v1/mailboxes/mbx_agent/emails"]) == []
    assert stray_paths(event, ["/v1/send"]) == ["/v1/send"]
