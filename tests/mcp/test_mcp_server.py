"""`make mcp` from the outside: the official `mcp` client drives `python -m devtools.mcp_server` over stdio,
as Claude Desktop, Claude Code or MCP Inspector would. The server runs the handler against the loopback
stand-in and moto; with --verbose the stand-in writes one line per HTTP request to the server's stderr,
which is how these tests see what reached MultiMail."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from devtools.multimail_standin import INVOICE_EMAIL_ID, INVOICE_FOLLOWUP_EMAIL_ID
from devtools.multimail_standin.sample_mail import INVOICE_CSV, INVOICE_CSV_NAME

ROOT = Path(__file__).resolve().parents[2]
TOOLS = json.loads((ROOT / "openapi" / "email_actions.tools.json").read_text())
MULTIMAIL_REQUEST = '"GET /v1/', '"POST /v1/'  # the stand-in's request lines


def _run(stderr_log: Path, scenario: Callable[[Client], Awaitable[None]]) -> None:
    """Start the server over stdio (its stderr into `stderr_log`), connect, and play `scenario`."""
    command = f"exec {shlex.quote(sys.executable)} -m devtools.mcp_server --verbose 2>>{shlex.quote(str(stderr_log))}"
    server = StdioServerParameters(
        command="/bin/sh", args=["-c", command], cwd=str(ROOT), env={"PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"}
    )

    async def main() -> None:
        async with Client(server, read_timeout_seconds=60) as client:
            await scenario(client)

    anyio.run(main)


def _requests_to_multimail(stderr_log: Path) -> int:
    return sum(1 for line in stderr_log.read_text().splitlines() if any(mark in line for mark in MULTIMAIL_REQUEST))


def _answer(result: Any) -> dict[str, Any]:
    """The tool result's JSON (its text content), checked against its structured copy."""
    assert len(result.content) == 1
    answer: dict[str, Any] = json.loads(result.content[0].text)
    assert result.structured_content == answer
    assert result.is_error == ("error" in answer)
    return answer


def test_the_tool_list_is_the_generated_schema_and_every_tool_answers(tmp_path: Path) -> None:
    stderr_log = tmp_path / "server.log"
    answers: dict[str, dict[str, Any]] = {}

    async def scenario(client: Client) -> None:
        # WHEN the client lists the tools
        listed = await client.list_tools()
        # THEN they are exactly the generated tool schema: names, descriptions, input schemas
        assert [(t.name, t.description, t.input_schema) for t in listed.tools] == [
            (t["name"], t["description"], t["inputSchema"]) for t in TOOLS
        ]
        # AND each tool answers through the function
        calls: list[tuple[str, dict[str, Any]]] = [
            ("listInbox", {"limit": 3}),
            ("readEmail", {"email_id": INVOICE_EMAIL_ID}),
            ("getThread", {"thread_id": "th_seed_invoice"}),
            ("waitForEmail", {"timeout_seconds": 1}),
            ("getAttachment", {"email_id": INVOICE_FOLLOWUP_EMAIL_ID, "filename": INVOICE_CSV_NAME}),
            ("sendEmail", {"to": ["ana@example.com"], "subject": "Thursday", "body": "See you at 10:00."}),
            ("replyToEmail", {"email_id": INVOICE_EMAIL_ID, "body": "Thanks, we will check the invoice."}),
            ("listPendingEmails", {}),
            ("getMailboxStatus", {}),
        ]
        for name, arguments in calls:
            answers[name] = _answer(await client.call_tool(name, arguments))
        queued = answers["sendEmail"]["email_id"]
        # MultiMail lets an email be withdrawn once its scan is over, as the send answer tells the model
        with anyio.fail_after(5):
            while (
                _answer(await client.call_tool("readEmail", {"email_id": queued}))["email"]["status"] == "pending_scan"
            ):
                await anyio.sleep(0.05)
        answers["cancelPendingEmail"] = _answer(await client.call_tool("cancelPendingEmail", {"email_id": queued}))

    _run(stderr_log, scenario)
    assert sorted(answers) == sorted(tool["name"] for tool in TOOLS)
    assert all("error" not in answer for answer in answers.values()), answers
    assert answers["listInbox"]["count"] == 3
    assert answers["readEmail"]["email"]["id"] == INVOICE_EMAIL_ID
    assert INVOICE_EMAIL_ID in [email["id"] for email in answers["getThread"]["emails"]]
    assert answers["waitForEmail"]["arrived"] is False  # nothing new arrives while it waits
    assert answers["getAttachment"]["untrusted"]["text"] == INVOICE_CSV.decode()
    assert answers["sendEmail"]["status"] == "pending_scan"
    assert answers["listPendingEmails"]["count"] == 2  # the new email and the reply
    assert answers["cancelPendingEmail"]["email_id"] == answers["sendEmail"]["email_id"]
    # AND stdout carried only MCP: the function's logs and the stand-in's lines went to stderr
    assert _requests_to_multimail(stderr_log) >= len(TOOLS)


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("sendEmail", {"to": ["not an address"], "subject": "Hi", "body": "Hello"}, "to"),
    ("sendEmail", {"to": ["ana@example.com"], "subject": "Hi\r\nBcc: eve@example.com", "body": "x"}, "subject"),
    ("listInbox", {"limit": "ten"}, "limit"),
    ("readEmail", {"email_id": "../../admin"}, "email_id"),
    ("replyToEmail", {"email_id": INVOICE_EMAIL_ID}, "body"),
]


def test_bad_input_is_an_error_result_naming_the_field_and_never_reaches_multimail(tmp_path: Path) -> None:
    stderr_log = tmp_path / "server.log"
    results: list[Any] = []

    async def scenario(client: Client) -> None:
        # GIVEN a running server WHEN the client calls tools with bad input
        for tool, arguments, _ in BAD_CALLS:
            results.append(await client.call_tool(tool, arguments))

    _run(stderr_log, scenario)
    for result, (tool, _, field) in zip(results, BAD_CALLS, strict=True):
        # THEN each result is an error that names the field
        answer = _answer(result)
        assert result.is_error, tool
        assert answer["status_code"] == 400
        assert field in answer["fields"]
        assert f"`{field}" in answer["message"]
    # AND no request reached MultiMail
    assert _requests_to_multimail(stderr_log) == 0


def test_calls_made_at_the_same_time_each_get_their_own_answer(tmp_path: Path) -> None:
    # GIVEN 18 tool calls of four kinds, made at once (the server runs each in a thread)
    subjects = [f"Parallel {index}" for index in range(6)]
    calls: list[tuple[str, dict[str, Any]]] = [
        *(("sendEmail", {"to": ["ana@example.com"], "subject": s, "body": f"Body of {s}."}) for s in subjects),
        *(("readEmail", {"email_id": INVOICE_EMAIL_ID, "body_offset": index}) for index in range(4)),
        *(("listInbox", {"limit": index + 1}) for index in range(4)),
        *(("listInbox", {"limit": 100 + index}) for index in range(4)),
    ]
    answers: dict[int, dict[str, Any]] = {}

    async def scenario(client: Client) -> None:
        async def one(index: int, name: str, arguments: dict[str, Any]) -> None:
            answers[index] = _answer(await client.call_tool(name, arguments))

        async with anyio.create_task_group() as group:
            for index, (name, arguments) in enumerate(calls):
                group.start_soon(one, index, name, arguments)

    _run(tmp_path / "server.log", scenario)
    # THEN each answer is its own call's: its email queued, the email read, its page, its refusal
    assert len(answers) == len(calls)
    for index, (name, arguments) in enumerate(calls):
        answer = answers[index]
        if name == "sendEmail":
            assert answer["status"] == "pending_scan", answer
        elif name == "readEmail":
            assert answer["email"]["id"] == INVOICE_EMAIL_ID, answer
        elif arguments["limit"] <= 50:
            assert 1 <= answer["count"] <= arguments["limit"], answer
        else:
            assert answer["status_code"] == 400, answer
            assert answer["fields"] == ["limit"], answer
    assert len({answers[index]["email_id"] for index in range(len(subjects))}) == len(subjects)
