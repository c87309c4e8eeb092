"""One botocore session for every AWS client the function makes (Secrets Manager, DynamoDB).

Each Powertools utility left to itself builds its own boto3 session, and every session reads the
same model and endpoint files again: on a cold start that was the largest part of the first call.
Clients are made only when an action needs one (an inbox listing never makes a DynamoDB client).

For SnapStart, `preload` reads the models before the snapshot without resolving credentials or
opening a connection, and `renew_session` after the restore starts a session that keeps only
that model cache: no credentials and no connection cross the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import botocore.session

_PLACEHOLDER = "preload-only"  # not a credential: it keeps the credential chain from running
_session: botocore.session.Session | None = None


def session() -> botocore.session.Session:
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    return _session


def client(service_name: str) -> Any:
    """A new client of the shared session (its caller keeps it: Powertools' provider or persistence layer)."""
    return session().create_client(service_name)


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
