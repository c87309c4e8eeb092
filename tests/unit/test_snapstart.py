"""The SnapStart hooks' guarantees: nothing secret or connection-bound crosses the snapshot, and each
restored copy gets its own pool, AWS session and random state. No timing is asserted here."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from devtools.multimail_standin import StandIn
from email_actions import aws_clients, multimail, snapstart
from tests.conftest import Invoke, load_event


class CountingCredentials:
    """Stands in for botocore's credential chain and counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def load_credentials(self) -> None:
        self.asked += 1


class FakeSecretsProvider:
    def __init__(self) -> None:
        self.cleared = False

    def clear_cache(self) -> None:
        self.cleared = True


@pytest.fixture
def snapshot_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployed variables, no AWS credentials at all, and a clean journal."""
    monkeypatch.setenv("MULTIMAIL_SECRET_ID", "multimail/api-key")
    monkeypatch.setenv("MULTIMAIL_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "email-actions-idempotency")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    from devtools.local_env import reset_function_state

    reset_function_state()
    snapstart.journal.clear()
    yield
    DEFAULT_PROVIDERS.pop("secrets", None)
    reset_function_state()
    snapstart.journal.clear()


def test_the_hooks_are_registered_with_the_runtime_in_their_roles() -> None:
    # GIVEN the runtime's two registration functions (fakes that record what they get)
    registered: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    # WHEN the function registers its hooks
    done = snapstart.register(before=registered["before"].append, after=registered["after"].append)
    # THEN one runs before the snapshot and the other after each restore
    assert done is True
    assert registered == {"before": [snapstart.before_snapshot], "after": [snapstart.after_restore]}


def test_without_the_runtime_library_nothing_is_registered() -> None:
    # GIVEN a machine without Lambda's snapshot_restore_py (this one)
    # WHEN the hooks are registered the normal way
    # THEN registration is skipped, and the hooks stay plain functions
    assert snapstart.register() is False


def test_before_the_snapshot_models_are_loaded_but_no_key_credential_or_connection_is(snapshot_env: None) -> None:
    # GIVEN a function with a stale pooled connection, a cached secrets provider and a persistence layer
    credentials = CountingCredentials()
    aws_clients.session().register_component("credential_provider", credentials)
    multimail.connection_pool().connection_from_url("http://127.0.0.1:9")
    provider = FakeSecretsProvider()
    DEFAULT_PROVIDERS["secrets"] = provider
    reads = multimail.key_reads()
    # WHEN the before-snapshot hook runs
    snapstart.before_snapshot()
    # THEN the AWS models are in the session's cache, loaded without asking for credentials
    loader = aws_clients.session().get_component("data_loader")
    assert {"secretsmanager", "dynamodb"} <= {args[1] for args in loader._cache if len(args) > 1}
    assert credentials.asked == 0
    # AND no key was read, the secrets provider and its cache are gone, and no connection is kept
    assert multimail.key_reads() == reads
    assert "secrets" not in DEFAULT_PROVIDERS
    assert provider.cleared
    assert not aws_clients.cached_clients()
    assert len(multimail.connection_pool().pools) == 0
    assert snapstart.journal == ["before_snapshot"]


def test_the_warm_up_request_never_reaches_a_use_case(snapshot_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN routes that would fail the test if they ran
    from email_actions import core

    def must_not_run(call: Any) -> Any:
        raise AssertionError("the warm-up reached a use case")

    monkeypatch.setattr(core, "_service", must_not_run)
    # WHEN the before-snapshot hook warms the core
    snapstart.before_snapshot()
    # THEN it completed without building a service, so without MultiMail or a key
    assert snapstart.journal == ["before_snapshot"]


def test_a_failed_warm_up_still_leaves_nothing_secret_in_the_snapshot(
    snapshot_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a warm-up that fails, and a secrets provider cached during initialisation
    def broken() -> None:
        raise RuntimeError("warm-up failed")

    monkeypatch.setattr(snapstart, "_warm_the_core", broken)
    DEFAULT_PROVIDERS["secrets"] = FakeSecretsProvider()
    # WHEN the before-snapshot hook runs
    snapstart.before_snapshot()
    # THEN the snapshot can still be taken (no exception) and it holds no secrets provider
    assert "secrets" not in DEFAULT_PROVIDERS
    assert not aws_clients.cached_clients()


def test_after_a_restore_the_copy_has_its_own_pool_session_and_random_numbers(snapshot_env: None) -> None:
    # GIVEN the state a snapshot would hold: a pool, a session with models, a secrets provider, a seeded random
    snapstart.before_snapshot()
    pool, session = multimail.connection_pool(), aws_clients.session()
    loader = session.get_component("data_loader")
    DEFAULT_PROVIDERS["secrets"] = FakeSecretsProvider()
    random.seed(15)
    snapshot_draw = random.random()  # noqa: S311 - the state under test, not a secret
    random.seed(15)  # every restored copy would start from this state
    # WHEN the after-restore hook runs
    snapstart.after_restore()
    # THEN the pool and the session are new (the session keeps only the loaded models)
    assert multimail.connection_pool() is not pool
    assert aws_clients.session() is not session
    assert aws_clients.session().get_component("data_loader") is loader
    # AND nothing cached before the restore survives, and random draws differ from the snapshot's
    assert "secrets" not in DEFAULT_PROVIDERS
    assert random.random() != snapshot_draw  # noqa: S311
    assert snapstart.journal == ["before_snapshot", "after_restore"]


def test_a_restored_copy_reads_the_key_once_and_sends(function_env: StandIn, invoke: Invoke) -> None:
    # GIVEN a function that went through a snapshot and a restore
    snapstart.before_snapshot()
    reads_at_snapshot = multimail.key_reads()
    snapstart.after_restore()
    # WHEN its first call is a send
    answer = invoke(load_event("send"))
    # THEN the key was read only after the restore, and the email went out through the new pool
    # (one ask for each request: the send, then the mailbox's oversight mode that words its answer)
    assert multimail.key_reads() - reads_at_snapshot == len(function_env.requests)
    assert answer.status == 200
    assert answer.body["awaiting_human_approval"] is True
    assert [(r.method, r.path) for r in function_env.requests] == [
        ("POST", f"/v1/mailboxes/{answer.body['mailbox_id']}/send"),
        ("GET", "/v1/mailboxes"),
    ]
