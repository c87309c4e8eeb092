"""Run the email action group on this machine: no AWS account, no Docker, no MultiMail key.

    python -m devtools.local_run demo [--port 8025] [--verbose]         # make demo
    python -m devtools.local_run invoke events/send.json [--verbose]    # make invoke EVENT=...

Both call the real handler, `email_actions.app.lambda_handler`, in this process (put `functions/`
on PYTHONPATH, as the make targets do), in the local environment of `devtools.local_env`: MultiMail is
the loopback stand-in, Secrets Manager and DynamoDB are moto; nothing leaves 127.0.0.1. `invoke`
switches to "real mode" when MULTIMAIL_API_URL is set in the environment: then it uses that
environment as it is (real MultiMail, the real secret through the caller's AWS credentials) and
starts neither the stand-in nor moto.

This module is the command line only. Where the rest lives:
- devtools/events.py: the event builder (load_event, with_params, with_body, said, operations, call_handler);
- devtools/local_env.py: the local environment (local_environment and its pieces), defined once;
- devtools/demo.py and devtools/transcript.py: the demo story and how it is printed.
The names other code imported from here before the split are re-exported below; import them from their
modules in new code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from devtools.demo import DEFAULT_DEMO_PORT, Step, Story, StoryError, demo, human_decides, progress
from devtools.events import (
    EVENTS,
    HANDLER,
    ROOT,
    call_handler,
    fixture_names,
    load_event,
    read_event,
    response_body,
    said,
    with_body,
    with_params,
)
from devtools.local_env import (
    IDEMPOTENCY_TABLE,
    REGION,
    SECRET_NAME,
    LocalRunError,
    PortBusyError,
    create_idempotency_table,
    free_port,
    function_environment,
    function_logs_to,
    local_environment,
    reset_function_state,
)
from devtools.transcript import Style, Transcript, cut

# The names of before the split (tests, the benchmark and the MCP server imported them from here).
LOCAL_SECRET_NAME = SECRET_NAME
LOCAL_REGION = REGION
LOCAL_IDEMPOTENCY_TABLE = IDEMPOTENCY_TABLE
__all__ = [
    "DEFAULT_DEMO_PORT",
    "EVENTS",
    "HANDLER",
    "LOCAL_IDEMPOTENCY_TABLE",
    "LOCAL_REGION",
    "LOCAL_SECRET_NAME",
    "ROOT",
    "LocalRunError",
    "PortBusyError",
    "Step",
    "Story",
    "StoryError",
    "Style",
    "Transcript",
    "call_handler",
    "create_idempotency_table",
    "cut",
    "demo",
    "fixture_names",
    "free_port",
    "function_logs_to",
    "human_decides",
    "invoke",
    "load_event",
    "local_environment",
    "main",
    "read_event",
    "reset_function_state",
    "response_body",
    "said",
    "with_body",
    "with_params",
]


def invoke(out: TextIO, event_path: str, *, verbose: bool = False) -> dict[str, Any]:
    """Run one fixture through the handler and print what it returns (real mode if MULTIMAIL_API_URL is set).

    A Bedrock Agent event prints the Bedrock response and its parsed body; a gateway fixture
    (events/gateway_*.json: the client context and the arguments) prints the tool's result.
    """
    from devtools.mcp_server.invocation import invoke_gateway_fixture, is_gateway_fixture

    path = _event_path(event_path)
    try:
        event = read_event(path)
    except ValueError as error:
        raise LocalRunError(f"{path} is not valid JSON ({error}); the fixtures in events/ show the shape") from None
    with function_environment(verbose=verbose) as where, function_logs_to(sys.stderr):
        progress(f"running {_shown(path)} through {HANDLER} ({where})")
        if is_gateway_fixture(event):
            result = invoke_gateway_fixture(event)
            print(json.dumps(result, indent=2, ensure_ascii=False), file=out, flush=True)
            return result
        response = call_handler(event)
    status, body = response_body(response)
    print(json.dumps(response, indent=2, ensure_ascii=False), file=out)
    print(f"\nresponseBody body, parsed (HTTP {status}):", file=out)
    print(json.dumps(body, indent=2, ensure_ascii=False), file=out, flush=True)
    return response


def _event_path(value: str) -> Path:
    if not value.strip():
        raise LocalRunError(f"EVENT is required: make invoke EVENT=events/send.json. {_fixture_hint()}")
    path = Path(value)
    for candidate in (path, ROOT / path, EVENTS / path, EVENTS / f"{value}.json"):
        if candidate.is_file():
            return candidate
    raise LocalRunError(f"no event file {value!r}: make invoke EVENT=events/send.json, for example. {_fixture_hint()}")


def _fixture_hint() -> str:
    return "The fixtures are events/<name>.json with <name> one of: " + ", ".join(fixture_names()) + "."


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _port(value: str) -> int:
    if not re.fullmatch(r"\d{1,5}", value.strip()) or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"SANDBOX_PORT must be a port number (0-65535), not {value!r}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.local_run",
        description="Run the email action group locally against the MultiMail stand-in and moto.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_demo = commands.add_parser("demo", help="the scripted agent session, with a transcript")
    run_demo.add_argument(
        "--port", type=_port, default=None, help=f"stand-in port (default $SANDBOX_PORT or {DEFAULT_DEMO_PORT})"
    )
    run_demo.add_argument("--verbose", action="store_true", help="show the function's INFO logs and the HTTP lines")
    run_one = commands.add_parser("invoke", help="one event through the handler; prints the Bedrock response")
    run_one.add_argument("event", help="an event file, e.g. events/send.json")
    run_one.add_argument("--verbose", action="store_true", help="show the function's INFO logs")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        if args.command == "demo":
            port = (
                args.port if args.port is not None else _port(os.environ.get("SANDBOX_PORT") or str(DEFAULT_DEMO_PORT))
            )
            demo(out, port=port, verbose=args.verbose)
        else:
            invoke(out, args.event, verbose=args.verbose)
    except argparse.ArgumentTypeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LocalRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
