"""Exactly-once sends: Powertools' Idempotency utility over a DynamoDB table.

A send or reply is recorded under a key made of what makes two calls the same email (see
`email_service.operation_key`). A repeat within the window gets the first answer back, marked as
a repeat (the use case then reports the email's current status); a duplicate that arrives while
the first is still running is refused. The same key goes to MultiMail as `idempotency_key`, which
covers the one case a local record cannot: the POST reached MultiMail, the answer was lost, and
the record was dropped with the error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from email_actions import aws_clients
from email_actions.errors import DuplicateInProgressError, UpstreamUnavailableError
from email_actions.observability import logger

if TYPE_CHECKING:  # Powertools' idempotency is imported when a send or reply first needs it
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

RECORD_WINDOW_SECONDS = 24 * 60 * 60  # the same window as MultiMail's own idempotency_key

Answer = dict[str, Any]


def _mark_repeat(response: Any, idempotent_data: DataRecord) -> Any:
    """Runs only when Powertools answers from a stored record: mark it as a repeat.

    The use case then reads the email's status now and words the answer (email_service._send_once):
    the stored answer is only as true as the moment it was stored.
    """
    return {**response, "repeat": True} if isinstance(response, dict) else response


class _TimeLeft(Protocol):
    def remaining(self) -> float: ...


class _Unbounded:
    """No deadline given (a local run): calls get the longest timeout step."""

    def remaining(self) -> float:
        return math.inf


def _persistence(table_name: str, deadline: _TimeLeft) -> DynamoDBPersistenceLayer:
    """A persistence layer for one call: each of its DynamoDB requests uses a client whose timeouts
    fit the time the call has left at that moment (aws_clients.bounded_client, cached by timeout
    step and shared by all calls), so a DynamoDB that stops answering cannot outlast the call."""
    layer: DynamoDBPersistenceLayer = _deadline_persistence_class()(table_name, deadline)
    return layer


_NO_CLIENT: Any = object()  # has no `meta`: Powertools' user-agent tagging skips it


@cache
def _deadline_persistence_class() -> type[Any]:
    # Made once, on the first send: Powertools' idempotency is imported only when a send needs it.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    class DeadlinePersistence(DynamoDBPersistenceLayer):
        def __init__(self, table_name: str, deadline: _TimeLeft) -> None:
            self._deadline: _TimeLeft | None = None
            # Given a placeholder, Powertools builds no client and tags none (a cached client tagged
            # per call would collect one handler per call); `client` below picks the real one.
            super().__init__(table_name=table_name, boto3_client=_NO_CLIENT)
            self._deadline = deadline

        @property  # Powertools keeps one client; this picks one per request
        def client(self) -> Any:
            if self._deadline is None:
                return _NO_CLIENT
            # At least the shortest step: the record's bookkeeping after a send (dropping it after a
            # failure, so a retry is not refused as in progress) must run even at the deadline; its
            # worst case (0.5 s) fits the second the door keeps back for answering.
            return aws_clients.bounded_client("dynamodb", max(self._deadline.remaining(), aws_clients.SHORTEST_CALL))

        @client.setter
        def client(self, value: Any) -> None:  # Powertools' __init__ assigns the client given to it
            pass

    return DeadlinePersistence


def load_utility() -> None:
    """Import Powertools' idempotency utility now (before a SnapStart snapshot) instead of at the first send."""
    import aws_lambda_powertools.utilities.idempotency.persistence.dynamodb  # noqa: F401


def forget_persistence() -> None:
    """Drop the DynamoDB clients (and so their connections)."""
    aws_clients.forget_clients("dynamodb")


class DynamoDBOnceGuard:
    """Runs an action at most once per key within the window.

    Nothing is built until an action runs: an action that sends nothing makes no DynamoDB client.
    """

    def __init__(
        self,
        table_name: str,
        *,
        lambda_context: LambdaContext | None = None,
        window_seconds: int = RECORD_WINDOW_SECONDS,
        deadline: _TimeLeft | None = None,
    ) -> None:
        self._table_name = table_name
        self._lambda_context = lambda_context
        self._window_seconds = window_seconds
        self._deadline = deadline or _Unbounded()

    def _config(self) -> IdempotencyConfig:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self._window_seconds,
            response_hook=_mark_repeat,
        )
        if self._lambda_context is not None:
            # An in-progress record then expires with this invocation's deadline if it crashes.
            config.register_lambda_context(self._lambda_context)
        return config

    def run_once(self, action_name: str, key: str, action: Callable[[], Answer]) -> Answer:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
        )

        completed: list[Answer] = []
        failed: list[Exception] = []

        @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
            data_keyword_argument="operation",
            persistence_store=_persistence(self._table_name, self._deadline),
            config=self._config(),
            key_prefix=f"email-actions#{action_name}",
        )
        def once(operation: dict[str, str]) -> Answer:
            try:
                answer = action()
            except Exception as error:
                failed.append(error)
                raise
            completed.append(answer)
            return answer

        try:
            result: Answer = once(operation={"key": key})
        except IdempotencyAlreadyInProgressError:
            raise DuplicateInProgressError(
                "The same email is being sent right now by an earlier identical request. Do not send it "
                "again; call listPendingEmails in a few seconds to see it."
            ) from None
        except IdempotencyPersistenceLayerError:
            if completed:  # MultiMail accepted it; only the bookkeeping failed afterwards
                logger.warning("idempotency record not saved after a successful send")
                return completed[0]
            if failed:  # the send's own failure (a timeout: it may exist) is the truth, not the record's
                logger.warning("idempotency record not removed after a failed send")
                raise failed[0] from None
            logger.exception("idempotency store unavailable")
            raise UpstreamUnavailableError(
                "The function could not record the request, so it did not send it. Try again shortly."
            ) from None
        return result
