"""One botocore session for every AWS client the function makes (Secrets Manager, DynamoDB).

Each Powertools utility left to itself builds its own boto3 session, and every session reads the
same model and endpoint files again: on a cold start that was the largest part of the first call.
Clients are made only when an action needs one (an inbox listing never makes a DynamoDB client).

For SnapStart, `preload` reads the models before the snapshot without resolving credentials or
opening a connection, and `renew_session` after the restore starts a session that keeps only
that model cache: no credentials and no connection cross the snapshot.

Every call that serves a request uses a `bounded_client`: its connect and read timeouts come from
the time the call has left, and botocore does not retry, so a Secrets Manager or DynamoDB that
stops answering costs at most that time instead of botocore's 60 s timeouts times its retries.
Clients are cached by timeout step (a handful per service at most), because making one costs
milliseconds and a timeout cannot be changed on a client once made.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import botocore.session
from botocore.config import Config

_PLACEHOLDER = "preload-only"  # not a credential: it keeps the credential chain from running
_session: botocore.session.Session | None = None
# The timeouts a bounded client may have, in seconds. A call gets the largest step whose connect
# plus read (its worst case without retries) fits the time it has left.
TIMEOUT_STEPS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SHORTEST_CALL = 2 * TIMEOUT_STEPS[0]  # the worst case of a call with the shortest step
_bounded: dict[tuple[str, float], Any] = {}
_bounded_lock = threading.Lock()  # concurrent calls in one process must not build the same client twice


class NoTimeLeftError(Exception):
    """Too little time is left for even the shortest AWS call: it is not made."""


def session() -> botocore.session.Session:
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    return _session


def client(service_name: str) -> Any:
    """A new client of the shared session (its caller keeps it: Powertools' provider or persistence layer)."""
    return session().create_client(service_name)


def timeout_for(seconds_left: float) -> float | None:
    """The connect and read timeout for a call with `seconds_left`, or None when no step fits."""
    fitting = [step for step in TIMEOUT_STEPS if 2 * step <= seconds_left]
    return fitting[-1] if fitting else None


def bounded_client(service_name: str, seconds_left: float) -> Any:
    """A client whose one attempt (connect plus read, no retries) ends within `seconds_left`."""
    timeout = timeout_for(seconds_left)
    if timeout is None:
        raise NoTimeLeftError(f"{seconds_left:.2f} s left is too little for a call to {service_name}")
    cache_key = (service_name, timeout)
    found = _bounded.get(cache_key)
    if found is not None:
        return found
    with _bounded_lock:
        if cache_key not in _bounded:
            config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
            _bounded[cache_key] = session().create_client(service_name, config=config)
        return _bounded[cache_key]


def cached_clients() -> list[tuple[str, float]]:
    """The bounded clients kept, as (service, timeout)."""
    return sorted(_bounded)


def forget_clients(service_name: str | None = None) -> None:
    """Drop the bounded clients (of one service, or all) and so their connections."""
    with _bounded_lock:
        for cache_key in [k for k in _bounded if service_name in (None, k[0])]:
            del _bounded[cache_key]


def preload(service_names: Iterable[str]) -> None:
    """Read the services' models and endpoint rules into the session's cache.

    The clients built for this carry placeholder credentials, so the credential chain never runs,
    and they are thrown away before they could open a connection.
    """
    for name in service_names:
        session().create_client(name, aws_access_key_id=_PLACEHOLDER, aws_secret_access_key=_PLACEHOLDER)


def renew_session() -> None:
    """Replace the session by a new one that shares only the old one's loaded models."""
    global _session
    loader = session().get_component("data_loader")
    fresh = botocore.session.get_session()
    fresh.register_component("data_loader", loader)
    _session = fresh
    forget_clients()  # they hold the old session's credentials and connections
