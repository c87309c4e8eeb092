"""The function process of the benchmark: one fresh interpreter that plays one Lambda execution environment.

Run by bench/run.py as `python -S -P bench/worker.py CONFIG RESULT`, with PYTHONPATH set to the task
root, the layer and the runtime's own packages, in that order (as Lambda orders them). Standard
library only: nothing is imported before the clock starts except what the Lambda runtime would
already hold (json, os, time and the stand-in context class). The handler module is imported by
name, like the runtime does with `Handler:`.

Each cold start or restore comes in by one door, as the driver says: an action-group event
(Bedrock's `/send`), or a tool's arguments with a Lambda context whose client context names the
tool (an AgentCore Gateway's `sendEmail`).

Modes:
- cold:  import the handler and answer one send; report the time of each step.
- restore: a simulated SnapStart restore. Import the handler and run the before-snapshot hooks (what
         Lambda does when it publishes a version), fork (the child is a restored copy of that memory),
         and in the child run the after-restore hooks and answer one send, timed. The child also
         reports what the hooks guarantee: the order they ran in, that no key was read before the
         snapshot, that the MultiMail pool is a new one, and its own random numbers.
- warm:  the same, then keep invoking (a warm execution environment): per-call times of the handler
         and of a bare urllib3 request to the same endpoint (the floor), interleaved, then enough more
         calls to reach the invocation count; peak RSS at the end.
- shape: time EmailService.inbox over a 1,000-email page through a fake MailApi (no I/O), and invoke
         the real handler once against a loopback server that returns that page, for the answer size.

The function's own output (its log lines) goes to stdout, which the driver sends to a file: the
result travels through the RESULT file.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import random
import resource
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: the function must pay for it, not the driver
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Handler = Callable[[Any, Any], Any]


_MEMORY_MB = 256
PHASE_FIRST_CALL = "bench-phase: first call"  # written to stderr between the import and the first call


def main(config_path: str, result_path: str) -> None:
    global _MEMORY_MB
    with open(config_path, encoding="utf-8") as file:
        config: dict[str, Any] = json.load(file)
    _MEMORY_MB = int(config.get("memory_mb", _MEMORY_MB))
    mode = config["mode"]
    if mode == "cold":
        result = _cold(config)
    elif mode == "restore":
        result = _restore(config)
    elif mode == "warm":
        result = _warm(config)
    elif mode == "shape":
        result = _shape(config)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    result["peak_rss_kb"] = _peak_rss_kb()
    result["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["modules_loaded"] = len(sys.modules)
    with open(result_path, "w", encoding="utf-8") as file:
        json.dump(result, file)


def _peak_rss_kb() -> int:
    """This process's peak resident memory. Linux's VmHWM, not ru_maxrss: a child started by vfork
    inherits its parent's ru_maxrss across exec, so ru_maxrss would report the driver's peak (the
    driver holds moto). VmHWM belongs to the address space that exec created."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _load_context_class(path: str) -> Any:
    """devtools/lambda_context.py by file name, so the repository root stays off sys.path."""
    spec = importlib.util.spec_from_file_location("bench_lambda_context", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up while building the class
    spec.loader.exec_module(module)
    return module.LocalLambdaContext


def _import_handler(spec: str) -> Handler:
    module_name, _, function_name = spec.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), function_name)
    return handler


class _ClientContext:
    """What the runtime hands the function as `context.client_context` when a gateway invokes it."""

    def __init__(self, custom: Mapping[str, Any]) -> None:
        self.custom = dict(custom)
        self.env: dict[str, Any] = {}
        self.client = None


def _new_trace() -> None:
    """What the runtime does before each invocation with `Tracing: Active`: a new, sampled trace header
    (Powertools' Logger copies it into each log line as `xray_trace_id`)."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    os.environ["_X_AMZN_TRACE_ID"] = f"Root={root};Parent={os.urandom(8).hex()};Sampled=1"


def _invoke(
    handler: Handler, context_class: Any, event_text: str, gateway: Mapping[str, Any] | None = None
) -> tuple[float, dict[str, Any]]:
    """One invocation, timed. `gateway` is the client context's keys of a gateway's tool call (the
    event is then the tool's arguments); None for an action-group event."""
    event = json.loads(event_text)
    context = context_class(timeout_seconds=30.0, memory_limit_in_mb=_MEMORY_MB)
    if gateway is not None:
        context.client_context = _ClientContext(gateway)
    _new_trace()
    started = time.perf_counter()
    response = handler(event, context)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, response


def _status(response: Mapping[str, Any], gateway: Mapping[str, Any] | None = None) -> int:
    """The answer's status: an action group's httpStatusCode; a tool's result has `status_code` only on errors."""
    if gateway is not None:
        return int(response.get("status_code", 200))
    return int(response["response"]["httpStatusCode"])


def _cold(config: dict[str, Any]) -> dict[str, Any]:
    events = {name: json.dumps(event) for name, event in config["events"].items()}
    gateway = config.get("gateway")
    started = time.perf_counter()
    handler = _import_handler(config["handler"])
    imported = time.perf_counter()
    # The context object is the runtime's, not the function's: its module loads off the clock.
    context_class = _load_context_class(config["context_module"])
    if config.get("mark_phases"):  # for a profiler reading stderr: what follows is the first call's
        print(PHASE_FIRST_CALL, file=sys.stderr, flush=True)
    event = events["send"].replace(config["mark"], f"{config['run']}.0")
    first_ms, response = _invoke(handler, context_class, event, gateway)
    return {
        "import_ms": (imported - started) * 1000,
        "first_call_ms": first_ms,
        "cold_ms": (imported - started) * 1000 + first_ms,
        "status": _status(response, gateway),
    }


def _restore(config: dict[str, Any]) -> dict[str, Any]:
    event = json.dumps(config["events"]["send"]).replace(config["mark"], f"{config['run']}.0")
    gateway = config.get("gateway")
    handler = _import_handler(config["handler"])
    context_class = _load_context_class(config["context_module"])
    hooks = importlib.import_module(config["snapstart"]["hooks"])
    adapter = importlib.import_module(config["snapstart"]["adapter"])
    started = time.perf_counter()
    hooks.before_snapshot()
    before_ms = (time.perf_counter() - started) * 1000
    key_reads_at_snapshot = adapter.key_reads()
    pool_at_snapshot = adapter.connection_pool()
    modules_at_snapshot = set(sys.modules)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the restored copy
        code = 1
        try:
            os.close(reader)
            started = time.perf_counter()
            hooks.after_restore()
            restored = time.perf_counter()
            first_ms, response = _invoke(handler, context_class, event, gateway)
            report = {
                "after_restore_ms": (restored - started) * 1000,
                "first_call_ms": first_ms,
                "status": _status(response, gateway),
                "hooks": list(hooks.journal),
                "pool_renewed": adapter.connection_pool() is not pool_at_snapshot,
                "key_reads_after": adapter.key_reads(),
                "random": random.random(),  # noqa: S311 - checks reseeding, not a secret
                "late_imports": sorted(set(sys.modules) - modules_at_snapshot),  # what the snapshot lacked
            }
            with os.fdopen(writer, "w", encoding="utf-8") as pipe:
                json.dump(report, pipe)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, encoding="utf-8") as pipe:
        text = pipe.read()
    _, status = os.waitpid(child, 0)
    if status != 0 or not text:
        raise SystemExit(f"the restored copy failed (wait status {status})")
    restored_copy: dict[str, Any] = json.loads(text)
    copy_random = restored_copy.pop("random")
    parent_random = random.random()  # noqa: S311 - what the copy would have drawn had it not been reseeded
    return {
        **restored_copy,
        "before_snapshot_ms": before_ms,
        "key_reads_at_snapshot": key_reads_at_snapshot,
        "random_differs": copy_random != parent_random,
        "cold_ms": restored_copy["after_restore_ms"] + restored_copy["first_call_ms"],
    }


def _warm(config: dict[str, Any]) -> dict[str, Any]:
    events = {name: json.dumps(event) for name, event in config["events"].items()}
    handler = _import_handler(config["handler"])
    context_class = _load_context_class(config["context_module"])
    invocations = 0
    replayed = 0
    statuses: dict[str, int] = {}

    def call(name: str) -> float:
        nonlocal invocations, replayed
        number = f"{config['run']}.{invocations}"  # unique across the whole benchmark: no send is a repeat
        elapsed, response = _invoke(handler, context_class, events[name].replace(mark, number))
        invocations += 1
        status = _status(response)
        if name == "send" and _is_repeat(_bedrock_body(response)):
            replayed += 1
        if status >= 300 and config.get("strict", True):
            raise SystemExit(f"{name} answered {status}: {response}")
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        return elapsed

    mark = config["mark"]
    floor = _Floor(config["floor"], mark, config["run"])
    call("send")  # the cold call
    for index in range(config["warmup"]):
        call("send" if index % 2 == 0 else "inbox")
        floor.call("send" if index % 2 == 0 else "inbox")
    times: dict[str, list[float]] = {"send": [], "inbox": [], "floor_send": [], "floor_inbox": []}
    for _ in range(config["timed_calls"]):
        for name in ("send", "inbox"):
            times[name].append(call(name))
            times[f"floor_{name}"].append(floor.call(name))
    while invocations < config["invocations"]:
        call("send" if invocations % 2 == 0 else "inbox")
    return {"times_ms": times, "invocations": invocations, "statuses": statuses, "replayed": replayed}


def _bedrock_body(response: Mapping[str, Any]) -> object:
    """The JSON body of an action group's response (None when it has none)."""
    try:
        return json.loads(response["response"]["responseBody"]["application/json"]["body"])
    except (KeyError, TypeError, ValueError):
        return None


def _is_repeat(body: object) -> bool:
    """True when the answer (its JSON body) came from an idempotency record instead of a new send."""
    return isinstance(body, dict) and body.get("repeat") is True


class _Floor:
    """The least a call can cost: one bare urllib3 request to the same endpoint, with the same body."""

    def __init__(self, requests: Mapping[str, Mapping[str, Any]], mark: str, run: int) -> None:
        import urllib3  # the function imports it too; loaded by now either way

        self._pool = urllib3.PoolManager()
        self._requests = requests
        self._mark = mark
        self._run = run
        self._calls = 0

    def call(self, name: str) -> float:
        request = self._requests[name]
        self._calls += 1
        body = request.get("body")
        if body is not None:  # a new email each time, like the handler's sends
            body = body.replace(self._mark, f"floor {self._run}.{self._calls}")
        started = time.perf_counter()
        answer = self._pool.request(request["method"], request["url"], body=body, headers=request["headers"])
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status >= 300:
            raise SystemExit(f"floor {name} answered {answer.status}: {answer.data[:200]!r}")
        return elapsed


def _shape(config: dict[str, Any]) -> dict[str, Any]:
    """Figure 6: capping and shaping a 1,000-email page, and the size of the answer the agent gets."""
    from email_actions.email_service import EmailService
    from email_actions.models import ListInboxRequest
    from email_actions.multimail import Download

    context_class = _load_context_class(config["context_module"])
    with open(config["page_file"], encoding="utf-8") as file:
        page: dict[str, Any] = json.load(file)

    class PageOfThousand:
        """A MailApi whose list call returns the whole page at once, as a MultiMail ignoring `limit` would."""

        def list_emails(self, mailbox_id: str, query: Mapping[str, str | int]) -> dict[str, Any]:
            return page

        def send(self, mailbox_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
            raise NotImplementedError

        def reply(self, mailbox_id: str, email_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
            raise NotImplementedError

        def get_email(self, mailbox_id: str, email_id: str) -> dict[str, Any]:
            raise NotImplementedError

        def get_thread(self, mailbox_id: str, thread_id: str) -> dict[str, Any]:
            raise NotImplementedError

        def get_attachment(self, mailbox_id: str, email_id: str, filename: str) -> Download:
            raise NotImplementedError

        def cancel(self, mailbox_id: str, email_id: str) -> dict[str, Any]:
            raise NotImplementedError

        def list_mailboxes(self) -> dict[str, Any]:  # the inbox reads the mailbox's oversight mode
            return {"mailboxes": [{"id": config["mailbox_id"], "oversight_mode": "gated_send", "is_active": 1}]}

        def get_account(self) -> dict[str, Any]:
            raise NotImplementedError

        def get_usage(self, query: Mapping[str, str | int]) -> dict[str, Any]:
            raise NotImplementedError

    service = EmailService(PageOfThousand(), config["mailbox_id"])
    shaping: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for limit in config["limits"]:
        samples: list[float] = []
        request = ListInboxRequest(limit=limit)  # validated by the core before the use case; not timed here
        for _ in range(config["repeats"]):
            started = time.perf_counter()
            answer = service.inbox(request)
            samples.append((time.perf_counter() - started) * 1000)
        shaping[str(limit)] = samples
        counts[str(limit)] = answer["count"]
    handler = _import_handler(config["handler"])
    _, response = _invoke(handler, context_class, json.dumps(config["events"]["inbox"]))
    body = response["response"]["responseBody"]["application/json"]["body"]
    return {
        "page_emails": len(page["emails"]),
        "shaping_ms": shaping,
        "answer_counts": counts,
        "status": _status(response),
        "response_bytes": len(json.dumps(response).encode()),
        "body_bytes": len(body.encode()),
        "emails_in_answer": json.loads(body).get("count"),
    }


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
