"""The local environment, defined once: the deployed configuration on loopback.

MultiMail is the stand-in (`devtools.multimail_standin`, on 127.0.0.1), Secrets Manager and DynamoDB are
moto, in memory. The demo, `make invoke`, the tests, the benchmark, the chat and the local MCP server all
take their configuration from here, so they run the function the same way:

    with local_environment() as standin:   # stand-in started, moto on, variables set, secret and table made
        call_handler(load_event("inbox"))  # devtools.events

The pieces are public for the code that assembles its own world (pytest fixtures with monkeypatch, the
benchmark's separate processes): `function_variables`, `aws_variables`, `create_secret`,
`create_idempotency_table`, `start_standin`, `reset_function_state`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from devtools.events import ROOT
from devtools.multimail_standin import AGENT_MAILBOX_ID, StandIn

REGION = "us-east-1"
SECRET_NAME = "local/multimail-api-key"  # noqa: S105 -- the secret's name, not its value
IDEMPOTENCY_TABLE = "local-email-actions-idempotency"
SERVICE_NAME = "email-actions"  # template.yaml's POWERTOOLS_SERVICE_NAME
# moto accepts any credentials; these can never reach a real account.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-testing", "AWS_SECRET_ACCESS_KEY": "local-testing"}
# The variables whose values differ per deployment (template.yaml fills them from parameters and
# resources); the rest of the function's variables are the template's literals.
DEPLOYMENT_VARIABLES = ("MULTIMAIL_API_URL", "MULTIMAIL_SECRET_ID", "MULTIMAIL_MAILBOX_ID", "IDEMPOTENCY_TABLE")


class LocalRunError(Exception):
    """A problem the user can fix; the message says how. The command prints it and exits `exit_code`."""

    exit_code = 1


class PortBusyError(LocalRunError):
    exit_code = 2

    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(
            f"port {port} busy: set SANDBOX_PORT=<free port> and run make demo again "
            f"(for example: make demo SANDBOX_PORT={free_port()})"
        )


def free_port() -> int:
    """A loopback port that is free right now (for the hint; the demo itself binds with port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- the definitions ---------------------------------------------------------------------------------


def log_level(verbose: bool) -> str:
    return "INFO" if verbose else "WARNING"  # the audit lines are INFO


def function_variables(
    api_url: str,
    *,
    secret_id: str = SECRET_NAME,
    mailbox_id: str = AGENT_MAILBOX_ID,
    idempotency_table: str | None = IDEMPOTENCY_TABLE,
    verbose: bool = False,
) -> dict[str, str]:
    """The function's environment variables, as template.yaml sets them, pointed at `api_url`.

    `idempotency_table=None` leaves IDEMPOTENCY_TABLE out: exactly-once is then off, as the function
    allows (tests that check one call at a time use that).
    """
    variables = {
        "MULTIMAIL_API_URL": api_url,
        "MULTIMAIL_SECRET_ID": secret_id,
        "MULTIMAIL_MAILBOX_ID": mailbox_id,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_LOG_LEVEL": log_level(verbose),
    }
    if idempotency_table is not None:
        variables["IDEMPOTENCY_TABLE"] = idempotency_table
    return variables


def aws_variables(region: str = REGION, *, fake_credentials: bool = True) -> dict[str, str]:
    """The Region, and (by default) credentials that only moto accepts."""
    variables = {"AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    return {**variables, **FAKE_CREDENTIALS} if fake_credentials else variables


def secret_string(api_key: str) -> str:
    """The secret's value, in the shape the deploy stores: {"api_key": "mm_live_..."}."""
    return json.dumps({"api_key": api_key})


def create_secret(secretsmanager: Any, api_key: str, name: str = SECRET_NAME) -> str:
    """The MultiMail key's secret, through `secretsmanager` (a boto3 client); its name."""
    secretsmanager.create_secret(Name=name, SecretString=secret_string(api_key))
    return name


def create_idempotency_table(name: str = IDEMPOTENCY_TABLE, dynamodb: Any = None) -> Any:
    """The stack's exactly-once table, as template.yaml's IdempotencyTable defines it (key `id`, TTL on
    `expiration`; tests/unit/test_local_env.py compares the two), through `dynamodb` (a boto3 client; by
    default one for the local Region, which moto serves when it is active). Returns the client."""
    if dynamodb is None:
        import boto3

        dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return dynamodb


def start_standin(port: int = 0, *, verbose: bool = False, **options: Any) -> StandIn:
    """A started MultiMail stand-in on 127.0.0.1:`port` (0: a free one); PortBusyError when it is taken.
    `options` go to StandIn (rate limit, keys, extra mail, ...). The caller stops it. The agent mailbox's
    oversight mode is $SANDBOX_OVERSIGHT_MODE when set (e.g. monitored), else gated_send."""
    if "oversight_mode" not in options and os.environ.get("SANDBOX_OVERSIGHT_MODE"):
        options["oversight_mode"] = os.environ["SANDBOX_OVERSIGHT_MODE"]
    standin = StandIn(port=port, verbose=verbose, **options)
    try:
        standin.start()
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortBusyError(port) from None
        raise
    return standin


def ensure_function_importable() -> None:
    """Put functions/ on sys.path (the make targets and pytest do; `python -m converse_agent` does not)."""
    functions = str(ROOT / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)


def reset_function_state() -> None:
    """Forget everything a warm Lambda would keep: settings, cached secret, key provider, DynamoDB client."""
    from aws_lambda_powertools.utilities import parameters

    from email_actions import aws_clients, core, idempotency
    from email_actions.settings import get_settings

    get_settings.cache_clear()
    core.forget_collaborators()
    idempotency.forget_persistence()
    aws_clients.renew_session()  # a new environment's credentials and Region, as a new Lambda would read them
    parameters.clear_caches()


# -- the whole environment, as a context manager ---------------------------------------------------


def _set_aside(name: str, *, keep_aws_credentials: bool) -> bool:
    """The caller's variables that must not leak into the local run: any AWS_* setting (a profile, an
    endpoint override, real credentials) unless credentials are kept on purpose, and the function's own."""
    if name in DEPLOYMENT_VARIABLES or name.startswith(("MULTIMAIL_", "POWERTOOLS_")):
        return True
    if not name.startswith("AWS_"):
        return False
    return not keep_aws_credentials or name.startswith("AWS_ENDPOINT_URL")


@contextmanager
def environment_variables(
    values: Mapping[str, str], *, drop: Callable[[str], bool] = lambda _: False
) -> Iterator[None]:
    """Set `values`, remove the variables `drop` selects, and put everything back afterwards."""
    saved = dict(os.environ)
    try:
        for name in [name for name in os.environ if drop(name)]:
            del os.environ[name]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def local_environment(
    port: int = 0,
    *,
    verbose: bool = False,
    region: str = REGION,
    real_aws_services: Sequence[str] = (),
    **standin_options: Any,
) -> Iterator[StandIn]:
    """The deployed configuration on loopback: MultiMail is the stand-in, Secrets Manager and DynamoDB are
    moto (the secret SECRET_NAME holds the stand-in's agent key; the table IDEMPOTENCY_TABLE exists).

    The caller's AWS_*, MULTIMAIL_* and POWERTOOLS_* variables are set aside (no profile, no endpoint
    override, no real credentials can be used) and restored on exit, with the stand-in stopped and moto
    ended. `real_aws_services` (moto's names, e.g. "bedrockruntime" for the chat) still reach AWS: then
    the caller's credentials are kept for them. `standin_options` go to StandIn.
    """
    ensure_function_importable()
    standin = start_standin(port, verbose=verbose, **standin_options)
    keep = bool(real_aws_services)
    try:
        variables = {
            **aws_variables(region, fake_credentials=not keep),
            **function_variables(standin.base_url, verbose=verbose),
        }
        with environment_variables(variables, drop=lambda name: _set_aside(name, keep_aws_credentials=keep)):
            import boto3
            from moto import mock_aws
            from moto.core.config import DefaultConfig

            config: DefaultConfig = {
                "core": {"mock_credentials": not keep, "passthrough": {"services": list(real_aws_services)}}
            }
            with mock_aws(config=config):
                # moto accepts any credentials, and a chat user may have none in this shell yet
                session = boto3.Session(
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    region_name=region,
                )
                create_secret(session.client("secretsmanager"), standin.agent_key)
                create_idempotency_table(dynamodb=session.client("dynamodb"))
                reset_function_state()
                try:
                    yield standin
                finally:
                    reset_function_state()
    finally:
        standin.stop()


@contextmanager
def function_environment(*, verbose: bool = False) -> Iterator[str]:
    """Where one local run of the function sends its calls; yields a line that says which.

    Local mode (the default): `local_environment` on a free port. Real mode, when MULTIMAIL_API_URL is
    set: the caller's environment as it is (real MultiMail, the real secret through the caller's AWS
    credentials), checked first so that a missing piece is one clear line. `make invoke` and the local
    MCP server both run through here.
    """
    if not os.environ.get("MULTIMAIL_API_URL"):
        with local_environment(0, verbose=verbose) as standin:
            yield f"local: MultiMail stand-in at {standin.base_url}, secret and exactly-once table in moto"
        return
    secret_id = os.environ.get("MULTIMAIL_SECRET_ID", "").strip()
    if not secret_id:
        raise LocalRunError(
            "real mode (MULTIMAIL_API_URL is set) needs MULTIMAIL_SECRET_ID: the name or ARN of the secret that "
            'holds {"api_key": "mm_live_..."}. Or unset MULTIMAIL_API_URL to use the local stand-in.'
        )
    import boto3

    session = boto3.session.Session()
    if not session.region_name:
        raise LocalRunError("real mode: set AWS_REGION (or AWS_DEFAULT_REGION) to the Region of the secret")
    if session.get_credentials() is None:
        raise LocalRunError(
            "real mode: no AWS credentials found; set AWS_PROFILE or run `aws sso login` / `aws configure`"
        )
    ensure_function_importable()
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", log_level(verbose))
    mailbox = os.environ.get("MULTIMAIL_MAILBOX_ID") or "(none: the only mailbox the key sees, or the call names one)"
    reset_function_state()
    yield (
        f"real: {os.environ['MULTIMAIL_API_URL']}, mailbox {mailbox}, key from secret {secret_id} in "
        f"{session.region_name} (no stand-in, no moto)"
    )


@contextmanager
def function_logs_to(stream: TextIO) -> Iterator[None]:
    """Send the function's log lines (Powertools writes them to stdout) to `stream`, e.g. stderr."""
    from email_actions.observability import logger

    handler = logger.registered_handler
    previous = handler.setStream(stream) if isinstance(handler, logging.StreamHandler) else None
    try:
        yield
    finally:
        if previous is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(previous)
