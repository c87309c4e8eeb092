"""The hardening harness: hypothesis profiles, a counting `harness` fixture, and the counts file.

Profiles (pick one with HYPOTHESIS_PROFILE): `fast`, the default that `make test` uses (fixed
seed, so the counts are reproducible), and `fuzz`, many more examples with fresh randomness
(`make fuzz`). The profiles are applied per test through `hardening_settings`, not loaded
globally, so other suites keep their own hypothesis settings.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from hypothesis import HealthCheck, settings

from devtools.lambda_context import LocalLambdaContext
from devtools.multimail_standin import AGENT_MAILBOX_ID, Email, Fault, StandIn
from email_actions import aws_clients, email_service, multimail
from tests.conftest import SECRET_NAME, Answer, check_bedrock_response, reset_function_state
from tests.hardening.counts import COUNTS, counts_file
from tests.hardening.leakscan import secrets_in, watch

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fast")
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
# The harness resets what matters per example (recorded requests, faults); the stand-in and moto
# persist across examples on purpose, so the function-scoped-fixture health check is suppressed.
settings.register_profile("fast", max_examples=60, deadline=None, derandomize=True, suppress_health_check=_HEALTH)
settings.register_profile(
    "fuzz", max_examples=1500, deadline=None, derandomize=False, suppress_health_check=_HEALTH, print_blob=True
)


def hardening_settings(weight: float = 1.0) -> settings:
    """The selected profile, with `weight` times its number of examples."""
    parent = settings.get_profile(PROFILE)
    return settings(parent=parent, max_examples=max(1, int(parent.max_examples * weight)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    COUNTS.profile = PROFILE
    if _whole_matrix_ran(session):  # a partial run (-k, one file) must not replace the table's numbers
        path = counts_file(PROFILE)
        path.parent.mkdir(exist_ok=True)
        path.write_text(COUNTS.to_json())
    failures = COUNTS.failures()
    if failures:  # each is also a failed test; this makes sure no count can pass unnoticed
        print(f"\nHardening matrix: these counts must be zero: {failures}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _whole_matrix_ran(session: pytest.Session) -> bool:
    here = Path(__file__).parent
    modules = {Path(str(item.path)) for item in session.items if Path(str(item.path)).parent == here}
    selected = not (session.config.getoption("keyword") or session.config.getoption("markexpr"))
    return selected and modules == set(here.glob("test_*.py"))


# -- the harness -------------------------------------------------------------------------------

BEDROCK_LIMIT_BYTES = 25_000  # the most a Lambda response to a Bedrock agent may hold
_SEGMENT = r"(?!\.+/|\.+$)[^/]+"  # one path segment that is not made of dots alone
# The MultiMail paths each action may reach: anything else is a stray path.
ACTION_PATHS: dict[tuple[str, str], re.Pattern[str]] = {
    (method, api_path): re.compile(pattern.replace("{}", _SEGMENT))
    for (method, api_path), pattern in {
        # A repeated send or reply also reads its earlier twin, to report that email's current status.
        # The mailbox list (no model value in its path) gives the default mailbox and the oversight mode
        # that send, reply, inbox, pending and cancel answers are worded by.
        ("POST", "/send"): r"^/v1/mailboxes(/{}/(send|emails/{}))?$",
        ("POST", "/reply"): r"^/v1/mailboxes(/{}/(reply/{}|emails/{}))?$",
        ("GET", "/inbox"): r"^/v1/mailboxes(/{}/emails)?$",
        ("GET", "/emails/{email_id}"): r"^/v1/mailboxes(/{}/emails/{})?$",
        # An attachment: the email's listing first, then (for a text type) the one download path.
        ("GET", "/emails/{email_id}/attachment"): r"^/v1/mailboxes(/{}/emails/{}(/attachments/{})?)?$",
        ("GET", "/pending"): r"^/v1/mailboxes(/{}/emails)?$",
        ("GET", "/inbox/wait"): r"^/v1/mailboxes(/{}/emails)?$",
        # A thread also reads its newest emails one by one: the thread endpoint gives no bodies.
        ("GET", "/threads/{thread_id}"): r"^/v1/mailboxes(/{}/(threads/{}|emails/{}))?$",
        ("POST", "/pending/{email_id}/cancel"): r"^/v1/mailboxes(/{}/emails/{}/cancel)?$",
        # The status reads the mailbox list, the account and today's usage: no path takes a model's value.
        ("GET", "/mailbox"): r"^/v1/(mailboxes|account|usage)$",
    }.items()
}


def stray_paths(event: Any, paths: list[str]) -> list[str]:
    """The paths in `paths` that the event's action should not reach."""
    source = event if isinstance(event, dict) else {}
    # The resolver takes the method in any case (a mutated fixture's `get` is routed as GET /inbox).
    allowed = ACTION_PATHS.get((str(source.get("httpMethod")).upper(), str(source.get("apiPath"))))
    return [path for path in paths if allowed is None or not allowed.match(path)]


@dataclass
class Run:
    answer: Answer
    seconds: float


@dataclass
class Harness:
    """Runs events through the real handler, against the stand-in, and counts what happens."""

    standin: StandIn
    secrets: Any
    monkeypatch: pytest.MonkeyPatch
    area: str
    secret_reads: list[bool] = field(default_factory=list)  # force_fetch flags of GetSecretValue calls
    # Every pause the MultiMail adapter made between attempts, in seconds: what a test checks instead
    # of the wall clock, which a loaded machine stretches ("answered at once" = no pause).
    pauses: list[float] = field(default_factory=list)

    def run(self, event: Any, *, timeout_seconds: float = 30.0) -> Run:
        """One invocation. Crashes, leaks and overruns are counted and fail the test."""
        from email_actions.app import lambda_handler

        COUNTS.tried(self.area)
        seen = len(self.standin.requests)
        started = time.monotonic()
        try:
            response = lambda_handler(event, LocalLambdaContext(timeout_seconds=timeout_seconds))
        except Exception:
            COUNTS.crashes += 1
            raise
        seconds = time.monotonic() - started
        stray = stray_paths(event, [r.path for r in self.standin.requests[seen:]])
        if stray:
            COUNTS.stray_paths += len(stray)
            pytest.fail(f"requests reached paths this action must not reach: {stray}")
        try:
            size = len(json.dumps(response).encode())  # what Bedrock receives, escapes and all
        except (TypeError, ValueError):
            size = None  # not JSON at all: check_bedrock_response counts it as a crash
        if size is not None and size > BEDROCK_LIMIT_BYTES:
            COUNTS.oversize += 1
            pytest.fail(f"the serialized response is {size:,} bytes, over Bedrock's {BEDROCK_LIMIT_BYTES:,}")
        try:
            answer = check_bedrock_response(event, response)
        except (AssertionError, KeyError, TypeError, ValueError):
            COUNTS.crashes += 1
            raise
        if seconds >= timeout_seconds:  # Lambda would have killed it: the turn fails without an answer
            COUNTS.deadline_overruns += 1
            pytest.fail(f"the handler ran {seconds:.2f} s of a {timeout_seconds} s budget")
        leaked = secrets_in(json.dumps(response, ensure_ascii=False), extra=[self.standin.agent_key])
        if leaked:
            COUNTS.leaks += len(leaked)
            pytest.fail(f"a secret value ({len(leaked[0])} characters) is in the answer")
        return Run(answer, seconds)

    # -- state between examples -------------------------------------------------------------------

    def fresh(self) -> None:
        self.standin.clear_requests()
        self.standin.clear_faults()
        self.pauses.clear()

    def inject(self, fault: Fault, *, times: int = 1, path_contains: str | None = None) -> None:
        self.standin.inject_fault(fault, times=times, path_contains=path_contains)

    def point_at(self, base_url: str) -> None:
        """Send the function's MultiMail calls somewhere else (a closed port, a silent listener)."""
        self.monkeypatch.setenv("MULTIMAIL_API_URL", base_url)
        self.reset()

    def reset(self) -> None:
        """A cold start: settings, key provider and secret cache forgotten; reads counted again."""
        reset_function_state()

        def count(**_: Any) -> None:
            self.secret_reads.append(True)

        # On the new session, so every client the function makes from it (one per timeout step) counts.
        aws_clients.session().register("before-call.secrets-manager.GetSecretValue", count)

    def store_key(self, value: str) -> None:
        """Put a new secret value into Secrets Manager (moto), as a rotation would."""
        watch(value)
        self.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({"api_key": value}))

    def rotate_key(self) -> str:
        """MultiMail issues a new key (the old one now answers 401) and the secret is updated."""
        old = self.standin.agent_key
        new = self.standin.rotate_agent_key(f"mm_live_rotated_{uuid.uuid4().hex}")
        watch(old, new)
        self.store_key(new)
        return new

    # -- sends ------------------------------------------------------------------------------------

    def created(self, marker: str) -> list[Email]:
        """Outbound emails in the agent's mailbox whose subject or body carries `marker`."""
        return [
            email
            for email in self.standin.emails(AGENT_MAILBOX_ID)
            if email.direction == "outbound" and (marker in email.subject or marker in email.markdown)
        ]

    def check_one_send(self, marker: str, answer: Answer, *, settle: float = 0.0, truthful: bool = True) -> list[Email]:
        """At most one email per intended send, and (unless `truthful` is off) an answer that tells
        the truth about it. Counted once per call: call it once per intended send."""
        if settle:
            time.sleep(settle)  # let a stalled or delayed stand-in request finish its work
        emails = self.created(marker)
        COUNTS.intended_sends += 1
        if len(emails) > 1:
            COUNTS.duplicates += len(emails) - 1
        assert len(emails) <= 1, f"{len(emails)} emails were created for one intended send"
        if answer.status == 200:
            assert len(emails) == 1
            assert answer.body["email_id"] == emails[0].id
        if truthful:
            self.check_truth(marker, answer)
        return emails

    def check_sent(self, marker: str, answer: Answer) -> Email:
        """A send that should have gone out did: a 200 answer and exactly one email upstream."""
        emails = self.created(marker)
        if answer.status != 200 or len(emails) != 1:
            COUNTS.wrongly_blocked += 1
            pytest.fail(f"a send that should have gone out got {answer.status} and made {len(emails)} email(s)")
        return emails[0]

    def check_truth(self, marker: str, answer: Answer) -> None:
        """What the answer says about the email matches what exists upstream."""
        emails = self.created(marker)
        if answer.status == 200:
            assert [e.id for e in emails] == [answer.body["email_id"]]
        elif emails:  # it exists, so the model must not be told it wasn't sent, nor to try again
            assert answer.body.get("sent") is not False, answer.body
            assert "Do NOT send it again" in answer.message, answer.message
        if answer.body.get("sent") is False:
            assert not emails


@pytest.fixture
def harness(
    request: pytest.FixtureRequest, function_env: StandIn, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    area = request.node.get_closest_marker("area")
    rig = Harness(function_env, secrets, monkeypatch, area.args[0] if area else "other")
    watch(function_env.agent_key)
    original = function_env.take_fault

    def counting_take_fault(method: str, path: str) -> Fault | None:
        fault = original(method, path)
        if fault is not None:
            COUNTS.faults += 1
        return fault

    monkeypatch.setattr(function_env, "take_fault", counting_take_fault)
    monkeypatch.setattr(multimail, "time", _RecordingTime(rig.pauses))
    monkeypatch.setattr(email_service, "time", VirtualTime())  # waitForEmail's waits pass at once
    rig.reset()
    yield rig
    function_env.clear_faults()
    DEFAULT_PROVIDERS.pop("secrets", None)  # the counting client must not outlive this test's moto


class _RecordingTime:
    """The `time` the MultiMail adapter sees: the real clock, and a real sleep that is also written down."""

    def __init__(self, pauses: list[float]) -> None:
        self._pauses = pauses
        self.monotonic = time.monotonic
        self.time = time.time

    def sleep(self, seconds: float) -> None:
        self._pauses.append(seconds)
        time.sleep(seconds)


class VirtualTime:
    """The `time` the use cases see: a sleep that passes at once, moving their clock on instead.

    The caller's deadline keeps the real clock, so a wait ends at its own timeout in a few polls."""

    def __init__(self) -> None:
        self.slept = 0.0
        self.time = time.time

    def monotonic(self) -> float:
        return time.monotonic() + self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "area(name): which row of the hardening table a test's inputs count in")


# -- loopback endpoints that fail before HTTP ----------------------------------------------------


@pytest.fixture
def closed_port() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def unanswering_server() -> Iterator[str]:
    """A loopback URL that accepts every connection and never answers a byte (a dependency that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)

    acceptor = threading.Thread(target=accept_and_hold, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(timeout=2)
        for connection in held:
            connection.close()
        server.close()


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A loopback URL whose connects hang until they time out.

    A listening socket that never accepts, with a backlog of 0, whose accept queue is filled by
    our own connections: Linux then drops further SYNs, so a connect waits for its timeout.
    Skipped, with the reason, where the kernel behaves otherwise.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers: list[socket.socket] = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    try:
        with socket.socket() as probe:
            probe.settimeout(0.3)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                pass
            else:
                pytest.skip("this kernel accepted a connect into a full backlog: no loopback connect timeout here")
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()
