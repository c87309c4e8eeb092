"""The key never leaks: not in an answer (checked on every hardening invocation), and not in any
test's output (the suite-wide scan in `leakscan`, hooked into `tests/conftest.py`).

This file checks the scan itself: that it fails a test whose output holds the key, that it really
sees the function's log lines, and that the noisiest logging the function can be configured for
still holds no key.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from devtools.multimail_standin import Faults
from tests.conftest import load_event, with_params
from tests.hardening.conftest import Harness
from tests.hardening.counts import COUNTS, Counts
from tests.hardening.leakscan import scan_report, secrets_in, watch

pytestmark = pytest.mark.area("faults")

PLANTED = "mm_live_planted_for_the_scanner_self_test"


class FakeItem:
    def __init__(self, **funcargs: Any) -> None:
        self.funcargs = funcargs


def report(when: Literal["setup", "call", "teardown"], sections: list[tuple[str, str]]) -> pytest.TestReport:
    return pytest.TestReport("x.py::t", ("x.py", 0, "t"), {}, "passed", None, when, sections)


def test_the_scan_fails_a_test_whose_output_holds_a_secret() -> None:
    # GIVEN a test whose captured stdout holds a watched key
    watch(PLANTED)
    counts = Counts()
    planted = report("call", [("Captured stdout call", f'{{"message": "oops", "key": "{PLANTED}"}}')])
    # WHEN the scan sees its report
    scan_report(FakeItem(), planted, counts)  # type: ignore[arg-type]
    # THEN the test fails, the leak is counted, and the failure does not repeat the key
    assert planted.outcome == "failed"
    assert counts.leaks == 1
    assert PLANTED not in str(planted.longrepr)


def test_the_scan_reads_a_redirected_log_buffer_and_only_this_phases_output() -> None:
    watch(PLANTED)
    counts = Counts()
    # GIVEN the key only in an earlier phase's section, and in a log buffer a test redirected into
    buffer = io.StringIO(f"a line with {PLANTED}\n")
    call = report("call", [("Captured stdout setup", PLANTED), ("Captured stdout call", "clean")])
    # WHEN the call phase is scanned THEN the buffer counts, the setup section (scanned at setup) does not
    scan_report(FakeItem(log_output=buffer), call, counts)  # type: ignore[arg-type]
    assert counts.leaks == 1
    assert "fixture log_output" in str(call.longrepr)


def test_output_without_secrets_passes() -> None:
    counts = Counts()
    clean = report("call", [("Captured stdout call", '{"message":"email action"}\n')])
    scan_report(FakeItem(), clean, counts)  # type: ignore[arg-type]
    assert clean.outcome == "passed"
    assert counts.leaks == 0
    assert counts.audit_lines_scanned == 1


@pytest.fixture
def scan_must_see_the_audit_lines(request: pytest.FixtureRequest) -> Iterator[None]:
    """Checked at teardown, after the scan has read the call phase's output."""
    if request.config.getoption("capture") == "no":
        pytest.skip("output capture is off (-s): the suite-wide scan cannot see logs")
    before = COUNTS.audit_lines_scanned
    yield
    assert COUNTS.audit_lines_scanned >= before + 4, "the function's audit lines did not reach the key-leak scan"


@pytest.mark.usefixtures("scan_must_see_the_audit_lines")
def test_every_kind_of_answer_is_logged_where_the_scan_reads(harness: Harness) -> None:
    # GIVEN the function answers a success, an upstream error, a key rejection and an invalid input
    harness.run(load_event("inbox"))
    harness.inject(Faults.status(503), times=3, path_contains="/emails")
    harness.run(with_params(load_event("read_email")), timeout_seconds=5)
    harness.standin.rotate_agent_key()
    harness.run(load_event("send"))
    harness.run(load_event("bad_send_header_injection"))
    # THEN (at teardown) the scan has read at least these four audit lines, and found no key in them


def test_debug_logging_of_the_function_and_powertools_holds_no_key(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the most the deployment's LogLevel knob turns on, and more: the function's logger,
    # Powertools' own loggers and urllib3 (which sees every MultiMail request) all at DEBUG
    from email_actions.observability import logger

    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    for name in (logger.name, "aws_lambda_powertools", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    previous = logger.log_level
    logger.setLevel(logging.DEBUG)
    old_key = harness.standin.agent_key
    try:
        # WHEN the function reads the secret, calls MultiMail, is refused after a rotation and refreshes
        assert harness.run(load_event("inbox")).answer.status == 200
        harness.rotate_key()
        assert harness.run(load_event("send")).answer.status == 200
        harness.run(load_event("pending"))
    finally:
        logger.setLevel(previous)
    # THEN there were debug records, and none of them holds either key
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert not secrets_in(caplog.text, extra=[old_key, harness.standin.agent_key])
