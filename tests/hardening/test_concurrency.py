"""Calls at the same time in one process (issue 20, item 1), and gateway names that must not be echoed
(item 2): counted in the matrix as `concurrent_failures` and `gateway_echoes`, both must-be-zero.

The MCP server runs each tool call in a thread, and a Converse loop may run parallel tool uses: one
process then serves several calls at once. The third review saw 6 of 18 concurrent MCP calls answer
`internal_error` and 23 of 24 threaded gateway calls fail, because the resolver kept the current
event and the call's context where every thread shared them. Each call here checks that it got its
own correct answer: its own email sent, its own email read, its own refusal.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from devtools.events import call_handler, load_event, with_body, with_params
from devtools.mcp_server.invocation import call_tool
from devtools.multimail_standin import AGENT_MAILBOX_ID, INVOICE_EMAIL_ID, StandIn
from tests.hardening.conftest import hardening_settings
from tests.hardening.counts import COUNTS

CALLS_PER_KIND = 4
THREADS = 12
REFUSAL_LIMIT_BYTES = 1_000


@dataclass(frozen=True)
class Call:
    """One call, the shape it comes in, and what its own answer must be."""

    label: str
    run: Callable[[], dict[str, Any]]
    check: Callable[[int, dict[str, Any]], bool]


def _bedrock(event: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: call_handler(event)


def _gateway(tool: str, arguments: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: call_tool(tool, arguments)


def _status_and_body(result: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if "response" in result and "messageVersion" in result:  # a Bedrock response
        inner = result["response"]
        return int(inner["httpStatusCode"]), json.loads(inner["responseBody"]["application/json"]["body"])
    body = dict(result)
    return int(body.pop("status_code", 200)), body


Check = Callable[[int, dict[str, Any]], bool]


def _a_page_of(limit: int) -> Check:
    return lambda status, body: status == 200 and 1 <= body["count"] <= limit


def _refused_address(address: str) -> Check:
    return lambda status, body: status == 400 and body["fields"] == ["to"] and address in body["message"]


def _mixed_calls(standin: StandIn) -> list[Call]:
    def sent_with_subject(subject: str) -> Callable[[int, dict[str, Any]], bool]:
        def check(status: int, body: dict[str, Any]) -> bool:
            ours = [e for e in standin.emails(AGENT_MAILBOX_ID) if e.id == body.get("email_id")]
            return status == 200 and len(ours) == 1 and ours[0].subject == subject

        return check

    calls: list[Call] = []
    for index in range(CALLS_PER_KIND):
        gateway_subject = f"Concurrent gateway send {index} {uuid.uuid4().hex[:6]}"
        bedrock_subject = f"Concurrent agent send {index} {uuid.uuid4().hex[:6]}"
        send_event = with_body(load_event("send"), subject=bedrock_subject)
        send_event["sessionId"] = f"concurrent-{index}"
        limit = index + 1
        calls += [
            Call(
                "gateway sendEmail",
                _gateway("sendEmail", {"to": ["ana@example.com"], "subject": gateway_subject, "body": "Hello."}),
                sent_with_subject(gateway_subject),
            ),
            Call("bedrock /send", _bedrock(send_event), sent_with_subject(bedrock_subject)),
            Call(
                "gateway listInbox",
                _gateway("listInbox", {"limit": limit}),
                _a_page_of(limit),
            ),
            Call(
                "bedrock readEmail",
                _bedrock(load_event("read_email")),
                lambda status, body: status == 200 and body["email"]["id"] == INVOICE_EMAIL_ID,
            ),
            Call(
                "gateway readEmail",
                _gateway("readEmail", {"email_id": INVOICE_EMAIL_ID, "body_offset": index}),
                lambda status, body: status == 200 and body["email"]["id"] == INVOICE_EMAIL_ID,
            ),
            Call(
                "bedrock /inbox refused",
                _bedrock(with_params(load_event("inbox"), limit=f"{500 + index}")),
                lambda status, body: status == 400 and body["fields"] == ["limit"],
            ),
            Call(
                "gateway sendEmail refused",
                _gateway("sendEmail", {"to": [f"not-an-address-{index}"], "subject": "S", "body": "B"}),
                _refused_address(f"not-an-address-{index}"),
            ),
            Call(
                "bedrock /pending",
                _bedrock(load_event("pending")),
                lambda status, body: status == 200 and isinstance(body.get("emails"), list),
            ),
        ]
    return calls


def test_mixed_tools_at_once_on_both_shapes_each_get_their_own_answer(table: Any, function_env: StandIn) -> None:
    # GIVEN sends, reads, listings and refusals, as gateway tool calls and as Bedrock events
    calls = _mixed_calls(function_env)

    def attempt(call: Call) -> str | None:
        try:
            status, body = _status_and_body(call.run())
        except Exception as error:  # an exception escaping the handler is a failure of its own
            return f"{call.label}: raised {type(error).__name__}"
        return None if call.check(status, body) else f"{call.label}: {status} {str(body)[:200]}"

    # WHEN they all run at the same time in this one process
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        failures = [failure for failure in pool.map(attempt, calls) if failure]
    COUNTS.tried("concurrency", len(calls))
    COUNTS.concurrent_failures += len(failures)
    # THEN every call got its own correct answer, and every send made exactly its own one email
    assert failures == []
    subjects = [e.subject for e in function_env.emails(AGENT_MAILBOX_ID) if e.subject.startswith("Concurrent")]
    assert len(subjects) == len(set(subjects)) == 2 * CALLS_PER_KIND


# -- hostile names through the gateway ----------------------------------------------------------

LONG = st.integers(min_value=65, max_value=200_000)


@hardening_settings(weight=0.5)
@given(
    tool_length=st.sampled_from([0, 12, 81, 5_000, 120_000]),
    name_lengths=st.lists(LONG | st.integers(min_value=1, max_value=12), min_size=0, max_size=8),
    many=st.sampled_from([0, 60, 3_000]),
)
def test_no_gateway_answer_echoes_a_long_name(
    function_env: StandIn, tool_length: int, name_lengths: list[int], many: int
) -> None:
    # GIVEN a tool name (real, or long and unknown) and arguments with long names, or very many
    tool = "listInbox" if tool_length == 0 else "t" * tool_length
    arguments: dict[str, Any] = {f"{i}" + "n" * (length - 1): "x" for i, length in enumerate(name_lengths)}
    arguments.update({f"extra{i}": i for i in range(many)})
    # WHEN the gateway calls the function
    result = call_tool(tool, arguments)
    COUNTS.tried("gateway_names")
    text = json.dumps(result, ensure_ascii=False)
    long_names = [name for name in [tool, *arguments] if len(name) > 64]
    echoed = [name for name in long_names if name in text]
    refused_long = result.get("status_code", 200) >= 400 and len(text.encode()) > REFUSAL_LIMIT_BYTES
    if echoed or refused_long:
        COUNTS.gateway_echoes += 1
    # THEN no long name comes back whole, and a refusal stays short; nothing unknown reached MultiMail
    assert not echoed
    assert not refused_long, text[:300]
    if long_names or many:
        assert function_env.requests == []
    function_env.clear_requests()
