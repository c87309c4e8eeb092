"""Lambda SnapStart: what runs once before the snapshot, and what each restored copy runs first.

With SnapStart, Lambda initialises the function when a version is published, snapshots the
memory, and starts new execution environments from copies of that snapshot. So:

- before the snapshot, the function imports and builds what a first call needs (the doors and the
  request models' validation, the AWS service models), but fetches no key, resolves no AWS credentials and
  leaves no connection open;
- after each restore, it starts a new MultiMail connection pool and a new AWS session (keeping only
  the loaded service models), drops any AWS client, secrets provider or cached value made since,
  and reseeds `random`, whose state would otherwise be the same in every copy.

The hooks are registered with the runtime's `snapshot_restore_py`. It ships with Lambda's Python
runtimes, not on a developer's machine; there the hooks stay plain functions that the tests and
the benchmark call themselves, in the runtime's order.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable

from email_actions import aws_clients, bedrock, core, idempotency, multimail
from email_actions.email_service import Caller
from email_actions.multimail import Deadline
from email_actions.observability import AuditRecord, logger
from email_actions.settings import get_settings

# Every action reads the key from Secrets Manager; sends and replies also use DynamoDB.
AWS_SERVICES = ("secretsmanager", "dynamodb")

# Modules the first request imports (seen in the benchmark's restored copies): load them into the snapshot.
FIRST_REQUEST_MODULES = ("encodings.idna", "email_validator")  # the second: a first send or reply checks addresses

# What ran, in order: the tests and the benchmark check that the hooks ran, and in which order.
journal: list[str] = []


def before_snapshot() -> None:
    """Build what the first call needs, then make sure nothing secret or connection-bound is kept."""
    journal.append("before_snapshot")
    try:
        _load_what_the_first_call_needs()
    except Exception:  # only speed is lost: the first call loads what is missing, so publishing goes on
        logger.exception("SnapStart warm-up failed; the first call after a restore will be slower")
    finally:
        _forget_what_must_not_cross()
        multimail.connection_pool().clear()


def after_restore() -> None:
    """Give this copy of the snapshot its own connections, AWS session and random state."""
    journal.append("after_restore")
    multimail.renew_connection_pool()
    aws_clients.renew_session()
    _forget_what_must_not_cross()
    random.seed()  # from os.urandom: each restored copy draws different numbers


def _load_what_the_first_call_needs() -> None:
    _warm_the_core()
    for name in FIRST_REQUEST_MODULES:
        importlib.import_module(name)
    with_table = _has_idempotency_table()
    if with_table:
        idempotency.load_utility()
    aws_clients.preload(AWS_SERVICES if with_table else AWS_SERVICES[:1])


def _forget_what_must_not_cross() -> None:
    multimail.forget_secrets()
    idempotency.forget_persistence()


def _has_idempotency_table() -> bool:
    try:
        return get_settings().idempotency_table is not None
    except Exception:  # a misconfiguration is reported by the first call, not here
        return True


def _warm_the_core() -> None:
    """Answer one request that validation refuses (a send with no recipient), through the action-group
    door, so the doors, the request models and the answer path are loaded; the refusal never reaches a
    use case, MultiMail or AWS."""
    warm_up = {
        "messageVersion": "1.0",
        "actionGroup": "warm-up",
        "apiPath": "/send",
        "httpMethod": "POST",
        "requestBody": {"content": {"application/json": {"properties": []}}},
    }
    call = core.Call(Deadline.in_seconds(1.0), Caller(), AuditRecord("warm-up", None, None, None))
    bedrock.answer_event(warm_up, call)


def register(
    before: Callable[[Callable[[], None]], object] | None = None,
    after: Callable[[Callable[[], None]], object] | None = None,
) -> bool:
    """Register the hooks with the runtime; False when `snapshot_restore_py` is not there (not in Lambda)."""
    if before is None or after is None:
        try:
            from snapshot_restore_py import (  # type: ignore[import-not-found,unused-ignore]  # Lambda's runtime
                register_after_restore,
                register_before_snapshot,
            )
        except ImportError:
            return False
        before, after = register_before_snapshot, register_after_restore
    before(before_snapshot)
    after(after_restore)
    return True
