"""The key provider's refresh policy, with a fake Secrets Manager and a fake clock."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from email_actions.errors import SecretUnavailableError
from email_actions.multimail import MIN_FORCED_REFRESH_INTERVAL, ApiKeyProvider


class FakeSecrets:
    def __init__(self, value: str) -> None:
        self.value = value
        self.forced_reads = 0

    def fetch(self, secret_id: str, force: bool) -> str:
        self.forced_reads += force
        return self.value


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bare_key_and_json_key_are_both_accepted() -> None:
    assert ApiKeyProvider("s", fetch=FakeSecrets(" mm_live_a \n").fetch).get() == "mm_live_a"
    assert ApiKeyProvider("s", fetch=FakeSecrets('{"api_key": "mm_live_b"}').fetch).get() == "mm_live_b"


def test_refresh_returns_the_new_key_once_and_then_waits() -> None:
    secrets, clock = FakeSecrets("mm_live_old"), FakeClock()
    keys = ApiKeyProvider("s", fetch=secrets.fetch, clock=clock)
    secrets.value = "mm_live_new"
    assert keys.refresh_after_rejection("mm_live_old") == "mm_live_new"
    # a second rejection soon after does not force Secrets Manager again
    assert keys.refresh_after_rejection("mm_live_new") is None
    assert secrets.forced_reads == 1
    clock.now += MIN_FORCED_REFRESH_INTERVAL + 1
    assert keys.refresh_after_rejection("mm_live_new") is None
    assert secrets.forced_reads == 2


def test_fetch_failures_name_the_secret_and_the_aws_error() -> None:
    def denied(secret_id: str, force: bool) -> str:
        raise GetParameterError(
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: "
            f"User is not authorized to access {secret_id}"
        )

    with pytest.raises(SecretUnavailableError) as raised:
        ApiKeyProvider("prod/multimail", fetch=denied).get()
    assert "prod/multimail" in raised.value.message
    assert "AccessDeniedException" in raised.value.message
    assert "may not read it" in raised.value.message
