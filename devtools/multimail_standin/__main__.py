"""Command line of the MultiMail stand-in: a development stand-in, not MultiMail.

    python -m devtools.multimail_standin serve [--port 8025] [--rate-limit N] [--extra-inbox N] [--scan-seconds S]
                                               [--quiet]
    python -m devtools.multimail_standin pending [--url URL] [--key KEY]
    python -m devtools.multimail_standin approve EMAIL_ID [--url URL] [--key KEY]
    python -m devtools.multimail_standin reject EMAIL_ID [--reason TEXT] [--url URL] [--key KEY]

``pending``, ``approve`` and ``reject`` are the human's side: they call ``/v1/oversight/*`` over HTTP
with the oversight key, never with the agent's key. The port defaults to ``$SANDBOX_PORT`` (8025).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from types import FrameType
from typing import Any

from devtools.multimail_standin import sample_mail
from devtools.multimail_standin.server import DEFAULT_OVERSIGHT_KEY, StandIn
from devtools.multimail_standin.store import CONTENT_FILTER_TRIGGER, DEFAULT_SCAN_SECONDS

DEFAULT_PORT = 8025
LABEL = "MultiMail stand-in: a development stand-in, not MultiMail. It only listens on 127.0.0.1."


class CliError(Exception):
    """One line for the user; the command exits 1."""


def _default_port() -> int:
    raw = os.environ.get("SANDBOX_PORT", "")
    if not raw:
        return DEFAULT_PORT
    try:
        return int(raw)
    except ValueError:
        raise CliError(f"SANDBOX_PORT must be a port number, not {raw!r}") from None


def _parser(default_port: int) -> argparse.ArgumentParser:
    default_url = f"http://127.0.0.1:{default_port}"
    parser = argparse.ArgumentParser(
        prog="python -m devtools.multimail_standin",
        description=f"{LABEL} Serves the MultiMail REST subset the backend uses, with seeded mail, "
        "and lets a human approve or reject what the agent queued.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the stand-in in the foreground (development stand-in)", description=LABEL
    )
    serve.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    serve.add_argument("--rate-limit", type=int, default=None, metavar="N", help="requests per minute per key")
    serve.add_argument("--extra-inbox", type=int, default=0, metavar="N", help="add N generated inbound emails")
    serve.add_argument("--quiet", action="store_true", help="do not log requests")
    serve.add_argument(
        "--oversight-mode",
        default=os.environ.get("SANDBOX_OVERSIGHT_MODE") or "gated_send",
        choices=("read_only", "gated_all", "gated_send", "monitored", "autonomous"),
        help="the agent mailbox's oversight mode (default $SANDBOX_OVERSIGHT_MODE or gated_send)",
    )
    serve.add_argument(
        "--scan-seconds",
        type=float,
        default=DEFAULT_SCAN_SECONDS,
        metavar="S",
        help=f"how long a new email stays in pending_scan (default {DEFAULT_SCAN_SECONDS})",
    )

    def human_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=f"{LABEL} {help_text.capitalize()}.")
        sub.add_argument("--url", default=default_url, help=f"stand-in base URL (default {default_url})")
        sub.add_argument(
            "--key",
            default=os.environ.get("SANDBOX_OVERSIGHT_KEY", DEFAULT_OVERSIGHT_KEY),
            help="oversight API key (default $SANDBOX_OVERSIGHT_KEY or the stand-in's default)",
        )
        return sub

    human_command("pending", "list the emails waiting for a human's approval")
    approve = human_command("approve", "approve (send) a pending email: the human's action")
    approve.add_argument("email_id")
    reject = human_command("reject", "reject a pending email: the human's action")
    reject.add_argument("email_id")
    reject.add_argument("--reason", default=None, help="why it was rejected")
    return parser


def _call(url: str, key: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the stand-in is local: no proxy
    try:
        with opener.open(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raw_error = exc.read()
        exc.close()
        try:
            message = json.loads(raw_error)["error"]
        except (ValueError, KeyError, TypeError):
            message = raw_error.decode(errors="replace").strip()[:200] or exc.reason
        raise CliError(f"HTTP {exc.code} from {path}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(
            f"cannot reach the stand-in at {url} ({reason}); is `python -m devtools.multimail_standin serve` running?"
        ) from None
    try:
        return json.loads(raw)
    except ValueError:
        raise CliError(f"{path} answered with something that is not JSON") from None


def _serve(args: argparse.Namespace) -> int:
    try:
        standin = StandIn(
            port=args.port,
            rate_limit_per_minute=args.rate_limit,
            extra_inbox_messages=args.extra_inbox,
            verbose=not args.quiet,
            scan_seconds=args.scan_seconds,
            oversight_mode=args.oversight_mode,
        ).start()
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            print(f"port {args.port} busy: pass --port or set SANDBOX_PORT", file=sys.stderr)
            return 2
        raise
    print(LABEL)
    print(f"base URL:       {standin.base_url}")
    print(f"oversight mode: {args.oversight_mode}  (the agent mailbox's)")
    print(f"agent key:      {standin.agent_key}  (scopes read, send)")
    print(f"oversight key:  {standin.oversight_key}  (scopes read, oversight; for pending/approve/reject)")
    print(
        f"mailboxes:      {sample_mail.AGENT_MAILBOX_ID} <{sample_mail.AGENT_ADDRESS}>, "
        f"{sample_mail.COLLEAGUE_MAILBOX_ID} <{sample_mail.COLLEAGUE_ADDRESS}>"
    )
    print(f"content filter: a subject or body holding {CONTENT_FILTER_TRIGGER!r} is refused with 400")
    print("Press Ctrl+C to stop.", flush=True)
    finished = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        finished.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    try:
        while not finished.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    print("stand-in stopped")
    return 0


def _pending(args: argparse.Namespace) -> int:
    pending = _call(args.url, args.key, "GET", "/v1/oversight/pending").get("emails", [])
    if not pending:
        print("no emails waiting for approval")
        return 0
    print(f"{len(pending)} email(s) waiting for approval:")
    for email in pending:
        recipients = ", ".join(email.get("to", []))
        print(
            f"{email.get('id')}  {email.get('mailbox_id', '?')}  {email.get('received_at', '')}  "
            f"to: {recipients}  subject: {email.get('subject', '')!r}"
        )
        print(f"    {_preview(str(email.get('body_markdown', '')))}")
    return 0


def _preview(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"


def _decide(args: argparse.Namespace, action: str) -> int:
    body: dict[str, Any] = {"email_id": args.email_id, "action": action}
    if getattr(args, "reason", None):
        body["reason"] = args.reason
    result = _call(args.url, args.key, "POST", "/v1/oversight/decide", body)
    verb = "approved" if action == "approve" else "rejected"
    print(f"{verb} {args.email_id}: status {result.get('status')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser(_default_port()).parse_args(argv)
        if args.command == "serve":
            return _serve(args)
        if args.command == "pending":
            return _pending(args)
        return _decide(args, "approve" if args.command == "approve" else "reject")
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
