"""HTTP layer of the MultiMail stand-in: a development stand-in, not MultiMail.

A ``ThreadingHTTPServer`` on 127.0.0.1 that speaks the subset of the MultiMail REST API our backend
uses (see ``/v1/...`` in ``_ROUTES``), records every request, and can inject upstream faults.

Order of checks for every request: route (404 / 405), then the API key (401), then the rate limit
(429, counted per key on every authenticated request), then the scope (403), then the body and the
domain rules (400 / 404 / 409 / 403 for a ``read_only`` mailbox), as MultiMail API 2.0.0 gives them.

The default behaviour is the spec's. The extras (fault injection, request recording, the oversight
shortcuts ``approve``/``reject``/``finish_scans``, seeding) are methods of :class:`StandIn` that a
caller must call by name.

Faults are taken from a queue before any of that: a queued fault applies to the next request(s)
whose path contains ``path_contains`` (and whose method matches, if given), whatever their key.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.multimail_standin import sample_mail
from devtools.multimail_standin.store import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_SCAN_SECONDS,
    ApiKey,
    Clock,
    ConflictError,
    Email,
    ForbiddenError,
    LimitReachedError,
    ListFilter,
    Mailbox,
    NotFoundError,
    RateLimiter,
    SendOutcome,
    StandInError,
    Store,
    ValidationError,
    decision_status,
    iso_utc,
)

HOST: Final = "127.0.0.1"
DEFAULT_AGENT_KEY: Final = "mm_live_standin_agent_key"
DEFAULT_OVERSIGHT_KEY: Final = "mm_live_standin_oversight_key"
ACCOUNT: Final = "acct_standin"
AGENT_SCOPES: Final = frozenset({"read", "send"})
OVERSIGHT_SCOPES: Final = frozenset({"read", "oversight"})
MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
_WRITE_CHUNK: Final = 64 * 1024


# ── faults ───────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class StatusFault:
    """Answer with ``code`` and this raw body instead of processing the request.

    ``body=None`` gives ``{"error": "injected fault: HTTP <code>"}``. ``headers`` are added as given
    (e.g. ``{"Retry-After": "2"}``); a ``Content-Type`` in them replaces ``content_type``.
    """

    code: int
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True)
class DelayFault:
    """Sleep ``seconds``, then process and answer normally (a read timeout for the client)."""

    seconds: float


@dataclass(frozen=True)
class AcceptThenStallFault:
    """Process the request for real (e.g. create the email), then sleep ``seconds`` before answering."""

    seconds: float


@dataclass(frozen=True)
class SlowDripFault:
    """Process the request, send the headers, then the body ``chunk_bytes`` at a time.

    The chunks are spread evenly over ``total_seconds``: each read is quick, the whole answer is slow.
    """

    total_seconds: float
    chunk_bytes: int = 4


@dataclass(frozen=True)
class OversizedFault:
    """Answer 200 with a valid JSON object of ``n_bytes`` bytes, without processing the request.

    With ``declare_length=False`` there is no Content-Length: the body ends when the connection closes.
    """

    n_bytes: int
    declare_length: bool = True


@dataclass(frozen=True)
class CloseConnectionFault:
    """Read the request, then drop the connection without answering."""


Fault = StatusFault | DelayFault | AcceptThenStallFault | SlowDripFault | OversizedFault | CloseConnectionFault


class Faults:
    """Short constructors: ``standin.inject_fault(Faults.status(503))``."""

    @staticmethod
    def status(
        code: int,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> StatusFault:
        return StatusFault(code, body, dict(headers or {}), content_type)

    @staticmethod
    def delay(seconds: float) -> DelayFault:
        return DelayFault(seconds)

    @staticmethod
    def accept_then_stall(seconds: float) -> AcceptThenStallFault:
        return AcceptThenStallFault(seconds)

    @staticmethod
    def slow_drip(total_seconds: float, chunk_bytes: int = 4) -> SlowDripFault:
        return SlowDripFault(total_seconds, chunk_bytes)

    @staticmethod
    def oversized(n_bytes: int, *, declare_length: bool = True) -> OversizedFault:
        return OversizedFault(n_bytes, declare_length)

    @staticmethod
    def close_connection() -> CloseConnectionFault:
        return CloseConnectionFault()


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int
    path_contains: str | None
    method: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.path_contains is None or self.path_contains in path) and (
            self.method is None or self.method.upper() == method
        )


# ── recorded requests and responses ──────────────────────────────────────────


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived. ``headers`` has lower-cased names; ``query`` keeps the last value."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes
    at: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> _Response:
    body = json.dumps(payload).encode()
    return _Response(status, body, (("Content-Type", "application/json"), *headers))


def _error(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> _Response:
    return _json_response(status, {"error": message}, headers)


def _oversized_body(n_bytes: int) -> bytes:
    head = b'{"emails": [], "cursor": null, "padding": "'
    tail = b'"}'
    return head + b"x" * max(0, n_bytes - len(head) - len(tail)) + tail


# ── the API ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class _Call:
    key: ApiKey
    params: dict[str, str]
    query: dict[str, str]
    body: Any


_Handler = Callable[[Store, _Call], tuple[int, Any]]


def _list_mailboxes(store: Store, call: _Call) -> tuple[int, Any]:
    return 200, {"mailboxes": [mailbox.to_json() for mailbox in store.mailboxes()]}


def _accepted(outcome: SendOutcome) -> tuple[int, Any]:
    # 202 for a new email (pending_scan); 200 already_sent for a repeated idempotency key.
    return (200 if outcome.replayed else 202), outcome.answer


def _send(store: Store, call: _Call) -> tuple[int, Any]:
    return _accepted(store.send(call.key.owner, call.params["mailbox_id"], call.body))


def _reply(store: Store, call: _Call) -> tuple[int, Any]:
    return _accepted(store.reply(call.key.owner, call.params["mailbox_id"], call.params["email_id"], call.body))


_LIST_TEXT_PARAMETERS: Final = (
    "cursor",
    "direction",
    "status",
    "sender",
    "subject_contains",
    "date_after",
    "date_before",
    "has_attachments",
    "since_id",
)


def _list_emails(store: Store, call: _Call) -> tuple[int, Any]:
    query = call.query
    raw_limit = query.get("limit", str(DEFAULT_PAGE_SIZE))
    try:
        limit = int(raw_limit)
    except ValueError:
        raise ValidationError("'limit' must be an integer between 1 and 100") from None
    text = {name: query.get(name) or None for name in _LIST_TEXT_PARAMETERS}
    page = store.list_emails(call.params["mailbox_id"], ListFilter(limit=limit, **text))
    return 200, {"emails": [email.summary() for email in page.emails], "cursor": page.next_cursor}


def _read_email(store: Store, call: _Call) -> tuple[int, Any]:
    return 200, store.read_email(call.params["mailbox_id"], call.params["email_id"]).full()


def _thread(store: Store, call: _Call) -> tuple[int, Any]:
    thread_id = call.params["thread_id"]
    emails = store.thread(call.params["mailbox_id"], thread_id)
    participants = list(dict.fromkeys(a for e in emails for a in (e.sender, *e.to, *e.cc)))
    return 200, {
        "thread_id": thread_id,
        "message_count": len(emails),
        "participants": participants,
        "last_activity": iso_utc(emails[-1].received_at),
        "has_unanswered_inbound": emails[-1].direction == "inbound",
        "emails": [email.thread_entry() for email in emails],
    }


@dataclass(frozen=True)
class _Bytes:
    """A body served as it is, with its own Content-Type (an attachment), never as JSON."""

    content: bytes
    content_type: str


def _attachment(store: Store, call: _Call) -> tuple[int, Any]:
    found = store.attachment(call.params["mailbox_id"], call.params["email_id"], call.params["filename"])
    return 200, _Bytes(found.content, found.content_type)


def _cancel(store: Store, call: _Call) -> tuple[int, Any]:
    email = store.cancel(call.params["mailbox_id"], call.params["email_id"])
    return 200, {"id": email.id, "status": email.status}


def _pending(store: Store, call: _Call) -> tuple[int, Any]:
    return 200, {"emails": [email.oversight_entry() for email in store.pending()]}


def _decide(store: Store, call: _Call) -> tuple[int, Any]:
    email = store.decide(call.body.get("email_id"), call.body.get("action"), call.body.get("reason"))
    status = decision_status(email)
    answer: dict[str, Any] = {"status": status}
    if status == "approved_and_sent":
        answer["postmark_message_id"] = f"standin-{email.id}"
    return 200, answer


def _account(store: Store, call: _Call) -> tuple[int, Any]:
    return 200, store.account_info(call.key.owner)


def _epoch_ms_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"'{name}' must be an integer (epoch ms)") from None


def _usage(store: Store, call: _Call) -> tuple[int, Any]:
    breakdown = call.query.get("breakdown")
    if breakdown is not None and breakdown != "daily":
        raise ValidationError("'breakdown' must be 'daily'")
    since, until = _epoch_ms_param(call.query, "from"), _epoch_ms_param(call.query, "to")
    return 200, store.usage(call.key.owner, since, until, breakdown)


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    scope: str
    handler: _Handler
    takes_body: bool = False


def _route(method: str, template: str, scope: str, handler: _Handler, *, takes_body: bool = False) -> _Route:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return _Route(method, template, re.compile(f"^{pattern}$"), scope, handler, takes_body)


_ROUTES: Final = (
    _route("GET", "/v1/mailboxes", "read", _list_mailboxes),
    _route("POST", "/v1/mailboxes/{mailbox_id}/send", "send", _send, takes_body=True),
    _route("POST", "/v1/mailboxes/{mailbox_id}/reply/{email_id}", "send", _reply, takes_body=True),
    _route("GET", "/v1/mailboxes/{mailbox_id}/emails", "read", _list_emails),
    _route("GET", "/v1/mailboxes/{mailbox_id}/emails/{email_id}", "read", _read_email),
    _route("GET", "/v1/mailboxes/{mailbox_id}/threads/{thread_id}", "read", _thread),
    _route("GET", "/v1/mailboxes/{mailbox_id}/emails/{email_id}/attachments/{filename}", "read", _attachment),
    _route("POST", "/v1/mailboxes/{mailbox_id}/emails/{email_id}/cancel", "send", _cancel),
    _route("GET", "/v1/oversight/pending", "oversight", _pending),
    _route("POST", "/v1/oversight/decide", "oversight", _decide, takes_body=True),
    _route("GET", "/v1/account", "read", _account),
    _route("GET", "/v1/usage", "read", _usage),
)

_ERROR_STATUS: Final[dict[type[StandInError], int]] = {
    NotFoundError: 404,
    ValidationError: 400,
    ConflictError: 409,
    ForbiddenError: 403,
    LimitReachedError: 429,
}


def _status_of(error: StandInError) -> int:
    """The status of the nearest mapped class (ContentFilteredError is a ValidationError: 400)."""
    for cls in type(error).__mro__:
        if cls in _ERROR_STATUS:
            return _ERROR_STATUS[cls]
    return 400


def route_table() -> frozenset[tuple[str, str]]:
    """Every (method, path template) the stand-in serves, e.g. ``("GET", "/v1/mailboxes")``."""
    return frozenset((route.method, route.template) for route in _ROUTES)


def _match(method: str, path: str) -> tuple[_Route | None, dict[str, str], set[str]]:
    allowed: set[str] = set()
    for route in _ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, {name: unquote(value) for name, value in found.groupdict().items()}, allowed
        allowed.add(route.method)
    return None, {}, allowed


# ── the HTTP server ──────────────────────────────────────────────────────────


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 drops bursts of concurrent connects (a 1 s SYN retry)

    def __init__(self, standin: StandIn, port: int) -> None:
        self.standin = standin
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError) or self.standin.stopping:
            return  # a client that went away, or a connection stop() closed
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "MultiMailStandIn/1 (development stand-in, not MultiMail)"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY the body waits ~40 ms for a
        # delayed ACK, which would hide every client-side timing behind the stand-in's own stall.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.standin.log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            self._serve_one()
        except OSError:
            self.close_connection = True

    def _serve_one(self) -> None:
        standin = self.server.standin
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = self._read_body(headers)
        except ValueError as exc:
            self.close_connection = True
            self._write(_error(400, str(exc)))
            return
        standin.record(
            RecordedRequest(
                method=self.command,
                path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers=headers,
                json=_parse_json_or_none(body),
                body=body,
                at=time.time(),
            )
        )
        fault = standin.take_fault(self.command, self.path)
        if isinstance(fault, StatusFault):
            self._write(_status_fault_response(fault))
            return
        if isinstance(fault, CloseConnectionFault):
            self._drop()
            return
        if isinstance(fault, OversizedFault):
            self._write_oversized(fault)
            return
        if isinstance(fault, DelayFault) and not standin.pause(fault.seconds):
            self._drop()  # stop() was called while sleeping
            return
        response = standin.dispatch(self.command, split.path, split.query, headers, body)
        if isinstance(fault, AcceptThenStallFault) and not standin.pause(fault.seconds):
            self._drop()
        elif isinstance(fault, SlowDripFault):
            self._write_slowly(response, fault)
        else:
            self._write(response)

    def _read_body(self, headers: Mapping[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        raw_length = headers.get("content-length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            raise ValueError("invalid Content-Length") from None
        if length < 0 or length > MAX_REQUEST_BYTES:
            raise ValueError("request body too large")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ValueError("invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_REQUEST_BYTES:
                raise ValueError("request body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _start(self, response: _Response, *, content_length: int | None) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if content_length is not None:
            self.send_header("Content-Length", str(content_length))
        self.end_headers()

    def _write(self, response: _Response) -> None:
        self._start(response, content_length=len(response.body))
        self.wfile.write(response.body)

    def _write_slowly(self, response: _Response, fault: SlowDripFault) -> None:
        step = max(1, fault.chunk_bytes)
        chunks = [response.body[i : i + step] for i in range(0, len(response.body), step)] or [b""]
        interval = fault.total_seconds / len(chunks)
        self._start(response, content_length=len(response.body))
        self.wfile.flush()
        for chunk in chunks:
            if not self.server.standin.pause(interval):
                self._drop()
                return
            self.wfile.write(chunk)
            self.wfile.flush()

    def _write_oversized(self, fault: OversizedFault) -> None:
        body = _oversized_body(fault.n_bytes)
        response = _Response(200, b"", (("Content-Type", "application/json"),))
        if fault.declare_length:
            self._start(response, content_length=len(body))
        else:
            self.close_connection = True
            self._start(
                _Response(200, b"", (*response.headers, ("Connection", "close"))),
                content_length=None,
            )
        view = memoryview(body)
        for start in range(0, len(body), _WRITE_CHUNK):
            self.wfile.write(view[start : start + _WRITE_CHUNK])

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _parse_json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _status_fault_response(fault: StatusFault) -> _Response:
    if fault.body is None:
        body = json.dumps({"error": f"injected fault: HTTP {fault.code}"}).encode()
    elif isinstance(fault.body, str):
        body = fault.body.encode()
    else:
        body = fault.body
    headers = list(fault.headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("Content-Type", fault.content_type))
    return _Response(fault.code, body, tuple(headers))


# ── the public object ────────────────────────────────────────────────────────


class StandIn:
    """The MultiMail stand-in: a development stand-in, not MultiMail.

    Serves the MultiMail REST subset on ``127.0.0.1`` from a daemon thread, seeded with
    :mod:`devtools.multimail_standin.sample_mail`. Use it as a context manager or call ``start()`` and
    ``stop()``. ``port=0`` picks a free port. ``clock`` drives timestamps, the 24-hour idempotency
    window, the rate limiter's one-minute window and the scan. ``rate_limit_per_minute`` (None = off)
    counts every authenticated request, per API key. ``scan_seconds`` is how long a new send or reply
    stays in ``pending_scan`` before it moves to ``pending_send_approval`` (0 = at the next request;
    :meth:`finish_scans` ends it at once).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        rate_limit_per_minute: int | None = None,
        clock: Clock = time.time,
        agent_key: str = DEFAULT_AGENT_KEY,
        oversight_key: str = DEFAULT_OVERSIGHT_KEY,
        extra_inbox_messages: int = 0,
        verbose: bool = False,
        scan_seconds: float = DEFAULT_SCAN_SECONDS,
        oversight_mode: str = "gated_send",
    ) -> None:
        self._requested_port = port
        self._clock = clock
        self._verbose = verbose
        self.store = Store(clock, scan_seconds=scan_seconds)
        sample_mail.load(self.store, extra_inbox_messages=extra_inbox_messages)
        self.store.set_oversight_mode(sample_mail.AGENT_MAILBOX_ID, oversight_mode)
        self.store.add_key(agent_key, AGENT_SCOPES, owner=ACCOUNT)
        self.store.add_key(oversight_key, OVERSIGHT_SCOPES, owner=ACCOUNT)
        self._agent_key = agent_key
        self._oversight_key = oversight_key
        self._limiter = RateLimiter(rate_limit_per_minute, clock)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_QueuedFault] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ── lifecycle ────────────────────────────────────────────────────────

    def start(self) -> StandIn:
        """Bind 127.0.0.1 (OSError if the port is busy) and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopping.clear()
        server = _Server(self, self._requested_port)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="multimail-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving. Returns promptly: sleeping faults wake up and drop their connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=2)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running: call start() first")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # ── keys, limits, mailboxes ──────────────────────────────────────────

    @property
    def agent_key(self) -> str:
        return self._agent_key

    @property
    def oversight_key(self) -> str:
        return self._oversight_key

    def rotate_agent_key(self, new_key: str | None = None) -> str:
        """Replace the agent key (same scopes and account); the old one answers 401 from now on."""
        new_key = new_key or f"mm_live_standin_{time.time_ns():x}"
        self.store.replace_key(self._agent_key, new_key)
        self._agent_key = new_key
        return new_key

    def add_key(self, value: str, scopes: Iterable[str]) -> None:
        """Another key of the same account, e.g. a read-only one for a 403 test."""
        self.store.add_key(value, scopes, owner=ACCOUNT)

    def set_rate_limit(self, limit_per_minute: int | None) -> None:
        self._limiter = RateLimiter(limit_per_minute, self._clock)

    def set_daily_limit(self, limit: int | None, warmup_stage: str = "stage_1") -> None:
        """Extra: a daily warm-up limit per mailbox (None = none); a send beyond it is 429 with the warm-up fields."""
        self.store.account.daily_limit = limit
        self.store.account.warmup_stage = warmup_stage

    def set_sending_disabled(self, disabled: bool, reason: str | None = None) -> None:
        """Extra: what GET /v1/account reports as sending_disabled and its reason."""
        self.store.account.sending_disabled = disabled
        self.store.account.sending_disabled_reason = reason

    def set_oversight_mode(self, mailbox_id: str, mode: str, *, known: bool = True) -> None:
        """The mailbox's mode; ``known=False`` allows one beyond the spec's enum (extra)."""
        self.store.set_oversight_mode(mailbox_id, mode, known=known)

    def add_mailbox(self, mailbox: Mailbox) -> None:
        """Another mailbox the agent's key sees (any mode; is_active 0 for one soft-deleted)."""
        self.store.add_mailbox(mailbox)

    def soft_delete_mailbox(self, mailbox_id: str) -> None:
        """The spec's DELETE /v1/mailboxes/{id}: listed with is_active 0 from now on, unusable."""
        self.store.soft_delete_mailbox(mailbox_id)

    @property
    def scan_seconds(self) -> float:
        return self.store.scan_seconds

    @scan_seconds.setter
    def scan_seconds(self, seconds: float) -> None:
        self.store.scan_seconds = seconds

    def finish_scans(self, email_id: str | None = None) -> None:
        """Extra: end the scan now, of one email or of all; they move on as if the scan had passed."""
        self.store.finish_scans(email_id)

    def seed_bulk(self, mailbox_id: str, count: int) -> list[str]:
        """Add ``count`` generated inbound emails, older than the seeds. Returns their ids."""
        return self.store.seed_bulk(mailbox_id, count, newest_at=sample_mail.BULK_NEWEST_AT)

    # ── assertions and the human's actions ───────────────────────────────

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def emails(self, mailbox_id: str | None = None) -> list[Email]:
        """Copies of every email of one mailbox (or of all), oldest first."""
        return self.store.emails(mailbox_id)

    def email(self, email_id: str) -> Email:
        return self.store.email(email_id)

    def approve(self, email_id: str) -> Email:
        """Extra (oversight shortcut): the human approves without HTTP. A scan still running ends first;
        the email is sent and delivered to any local recipient mailbox."""
        self.store.finish_scans(email_id)
        return self.store.decide(email_id, "approve")

    def reject(self, email_id: str, reason: str | None = None) -> Email:
        """Extra (oversight shortcut): the human rejects without HTTP; a scan still running ends first."""
        self.store.finish_scans(email_id)
        return self.store.decide(email_id, "reject", reason)

    # ── faults ───────────────────────────────────────────────────────────

    def inject_fault(
        self, fault: Fault, *, times: int = 1, path_contains: str | None = None, method: str | None = None
    ) -> None:
        """Queue ``fault`` for the next ``times`` requests whose path contains ``path_contains``."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_QueuedFault(fault, times, path_contains, method))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # ── used by the request handler ──────────────────────────────────────

    def log(self, message: str) -> None:
        if self._verbose:
            print(message, file=sys.stderr, flush=True)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for queued in self._faults:
                if queued.matches(method, path):
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        self._faults.remove(queued)
                    return queued.fault
        return None

    def pause(self, seconds: float) -> bool:
        """Sleep, waking early when stop() is called. True if the full time passed."""
        return not self._stopping.wait(max(0.0, seconds))

    def dispatch(self, method: str, path: str, raw_query: str, headers: Mapping[str, str], body: bytes) -> _Response:
        """One request through routing, auth, rate limit, scope and the store. No I/O."""
        route, params, allowed = _match(method, path)
        if route is None:
            if allowed:
                return _error(405, "method not allowed", (("Allow", ", ".join(sorted(allowed))),))
            return _error(404, "not found")
        key = self._authenticate(headers.get("authorization", ""))
        if key is None:
            return _error(401, "Missing or invalid API key")
        retry_after = self._limiter.hit(key.value)
        if retry_after is not None:
            return _error(429, "rate limit exceeded", (("Retry-After", str(retry_after)),))
        if route.scope not in key.scopes:
            return _error(403, f"key lacks the '{route.scope}' scope")
        payload: Any = None
        if route.takes_body:
            try:
                payload = json.loads(body) if body.strip() else {}
            except ValueError:
                return _error(400, "request body is not valid JSON")
            if not isinstance(payload, dict):
                return _error(400, "request body must be a JSON object")
        call = _Call(key, params, dict(parse_qsl(raw_query, keep_blank_values=True)), payload)
        try:
            status, result = route.handler(self.store, call)
        except LimitReachedError as exc:  # MultiMail's 429 bodies carry the warm-up numbers beside `error`
            return _json_response(429, {"error": str(exc), **exc.fields})
        except StandInError as exc:
            return _error(_status_of(exc), str(exc))
        if isinstance(result, _Bytes):
            return _Response(status, result.content, (("Content-Type", result.content_type),))
        return _json_response(status, result)

    def _authenticate(self, authorization: str) -> ApiKey | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.store.lookup_key(token.strip())
