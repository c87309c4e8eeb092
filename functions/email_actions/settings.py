"""Configuration, read once from the environment and validated. Nothing else reads os.environ."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from email_actions.errors import ConfigurationError

DEFAULT_API_URL = "https://api.multimail.dev"
_MAILBOX_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Settings:
    api_url: str
    secret_id: str
    default_mailbox_id: str | None
    idempotency_table: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        api_url = (env.get("MULTIMAIL_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not api_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"MULTIMAIL_API_URL must be an http(s) URL, not {api_url!r}.")
        secret_id = env.get("MULTIMAIL_SECRET_ID", "").strip()
        if not secret_id:
            raise ConfigurationError(
                "The function has no MULTIMAIL_SECRET_ID: set it to the name or ARN of the Secrets Manager "
                "secret that holds the MultiMail API key."
            )
        mailbox_id = env.get("MULTIMAIL_MAILBOX_ID", "").strip() or None
        if mailbox_id is not None and not _MAILBOX_ID.match(mailbox_id):
            raise ConfigurationError(f"MULTIMAIL_MAILBOX_ID is not a valid mailbox id: {mailbox_id!r}.")
        # Optional: without the table, MultiMail's own idempotency_key still dedupes sends and replies.
        table = env.get("IDEMPOTENCY_TABLE", "").strip() or None
        return cls(api_url=api_url, secret_id=secret_id, default_mailbox_id=mailbox_id, idempotency_table=table)


@cache
def get_settings() -> Settings:
    """The settings of this execution environment, built on first use (errors surface as answers)."""
    return Settings.from_env(os.environ)
