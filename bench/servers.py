"""The loopback stand-ins the benchmark runs in its own (driver) process, beside the MultiMail stand-in.

- `AwsServer`: moto's server-mode WSGI app on 127.0.0.1 (Secrets Manager and DynamoDB), wrapped so
  that it counts the calls it receives by operation (the `X-Amz-Target` header). Counting where the
  requests arrive is the honest count: it sees every call, whichever client or cache made it.
- `PageServer`: answers every GET with one fixed JSON document (the 1,000-email page of figure 6),
  because the MultiMail stand-in, like MultiMail, never returns more than 100 emails at once.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from devtools import local_env
from devtools.local_env import FAKE_CREDENTIALS, REGION, create_idempotency_table
from devtools.multimail_standin import StandIn

HOST = "127.0.0.1"
__all__ = ["FAKE_CREDENTIALS", "REGION", "AwsServer", "PageServer", "multimail_standin"]

StartResponse = Callable[..., Any]


@contextmanager
def multimail_standin(**options: Any) -> Iterator[StandIn]:
    """The MultiMail stand-in (it turns Nagle off on its connections, so no response stalls 40 ms)."""
    with StandIn(**options) as standin:
        yield standin


class AwsServer:
    """moto in server mode on a free loopback port, counting each operation it serves."""

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()  # by operation name
        self._targets: Counter[str] = Counter()  # by service.operation
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _counting_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", "")) or "unknown"
        with self._lock:
            self._calls[target.rpartition(".")[2]] += 1
            self._targets[target] += 1
        result: Iterable[bytes] = self._app(environ, start_response)
        return result

    def start(self) -> AwsServer:
        werkzeug_log = logging.getLogger("werkzeug")  # one line per request otherwise, on stderr
        werkzeug_log.addHandler(logging.NullHandler())
        werkzeug_log.setLevel(logging.ERROR)
        self._server = make_server(HOST, 0, self._counting_app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> AwsServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{HOST}:{self._server.server_port}"

    def calls(self, operation: str = "GetSecretValue") -> int:
        with self._lock:
            return self._calls[operation]

    def calls_matching(self, prefix: str) -> int:
        """All calls whose X-Amz-Target service prefix matches, e.g. "DynamoDB"."""
        with self._lock:
            return sum(count for operation, count in self._targets.items() if operation.startswith(prefix))

    def client(self, service: Literal["secretsmanager", "dynamodb"]) -> Any:
        """A boto3 client of the driver's, talking to this server, as an operator's CLI would."""
        import boto3  # the driver's import; the function process imports what it imports

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_secret(self, name: str, value: str) -> None:
        self.client("secretsmanager").create_secret(Name=name, SecretString=value)
        self.reset_counts()

    def create_local_environment(self, api_key: str) -> None:
        """The local environment's secret (holding `api_key`) and idempotency table (devtools.local_env)."""
        self.create_secret(local_env.SECRET_NAME, local_env.secret_string(api_key))
        self.create_table(local_env.IDEMPOTENCY_TABLE)

    def create_table(self, name: str) -> None:
        """The idempotency table, as the local run and template.yaml's IdempotencyTable make it."""
        create_idempotency_table(name, self.client("dynamodb"))
        self.reset_counts()

    def reset_counts(self) -> None:
        with self._lock:
            self._calls.clear()
            self._targets.clear()


class PageServer:
    """Serves one JSON document to every GET: MultiMail returning a 1,000-email page."""

    def __init__(self, document: object) -> None:
        payload = json.dumps(document).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _QuietServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="page-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:  # HTTPServer's would resolve the host name, which can be slow
        socketserver.TCPServer.server_bind(self)
        self.server_name = HOST
        self.server_port = int(self.socket.getsockname()[1])
