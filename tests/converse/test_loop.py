"""The Converse loop, driven by a scripted model, with the tools running through the real handler
against the loopback stand-in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from converse_agent.errors import ChatError
from converse_agent.loop import SYSTEM_PROMPT, Conversation, Guardrail
from converse_agent.tools import load_operations
from devtools.multimail_standin import AGENT_MAILBOX_ID, INVOICE_EMAIL_ID, StandIn
from tests.converse.conftest import MODEL_ID, RecordingExecutor, ScriptedModel

if TYPE_CHECKING:
    from email_actions.operations import Operation


class Person:
    """The person at the terminal: answers the confirmation prompts from a script, and remembers them."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, operation: Operation, tool_input: Mapping[str, Any]) -> bool:
        self.asked.append((operation.name, dict(tool_input)))
        return self.answers.pop(0)


def conversation(model: ScriptedModel, executor: Any, person: Person | None = None, **options: Any) -> Conversation:
    return Conversation(model.client, MODEL_ID, load_operations(), executor, person or Person(), **options)


def outbound(standin: StandIn) -> list[Any]:
    return [e for e in standin.emails(AGENT_MAILBOX_ID) if e.direction == "outbound"]


def test_inbox_read_and_a_reply_declined_then_accepted(
    model: ScriptedModel, executor: RecordingExecutor, function_env: StandIn
) -> None:
    # GIVEN a model that lists the inbox, reads the invoice email and drafts a reply,
    # and a person who declines the first draft and accepts it when asked again
    reply = {"email_id": INVOICE_EMAIL_ID, "body": "Thank you. We will pay INV-2041 by Friday."}
    inbox_call = model.calls_tool("listInbox", {"limit": 10}, text="Let me look.")
    read_call = model.calls_tool("readEmail", {"email_id": INVOICE_EMAIL_ID})
    declined_call = model.calls_tool("replyToEmail", reply)
    model.says("You declined the reply, so nothing was sent. What should I change?")
    accepted_call = model.calls_tool("replyToEmail", reply)
    model.says("Your reply is queued and waits for human approval in MultiMail.")
    person = Person(False, True)
    chat = conversation(model, executor, person)
    outbound_before = len(outbound(function_env))

    # WHEN the person asks about the invoice
    first = chat.ask("Answer the invoice email: we pay by Friday.")

    # THEN every request carries the tools from the schema and the system prompt's rules
    first_request = model.requests[0]
    assert first_request["modelId"] == MODEL_ID
    assert [t["toolSpec"]["name"] for t in first_request["toolConfig"]["tools"]] == list(load_operations())
    assert first_request["system"] == [{"text": SYSTEM_PROMPT}]
    assert "gated_send" in SYSTEM_PROMPT
    assert "pending_send_approval" in SYSTEM_PROMPT
    assert "`untrusted`" in SYSTEM_PROMPT
    assert first_request["inferenceConfig"]["maxTokens"] > 0
    assert "guardrailConfig" not in first_request
    # AND the inbox came back from the stand-in through the handler, as JSON
    inbox = model.last_tool_results(1)[inbox_call]
    assert inbox["status"] == "success"
    assert INVOICE_EMAIL_ID in [e["id"] for e in inbox["content"][0]["json"]["emails"]]
    read = model.last_tool_results(2)[read_call]
    assert read["status"] == "success"
    assert read["content"][0]["json"]["email"]["id"] == INVOICE_EMAIL_ID
    assert "untrusted" in read["content"][0]["json"]["email"]
    # AND the person was shown the draft, declined, and the function was never called for it
    assert person.asked == [("replyToEmail", reply)]
    declined = model.last_tool_results(3)[declined_call]
    assert declined["status"] == "error"
    assert declined["content"][0]["json"]["error"] == "declined_by_user"
    assert "nothing was sent" in declined["content"][0]["json"]["message"]
    assert [e["apiPath"] for e in executor.events] == ["/inbox", "/emails/{email_id}"]
    assert not [r for r in function_env.requests if r.method == "POST"]
    assert len(outbound(function_env)) == outbound_before
    assert first.text == "You declined the reply, so nothing was sent. What should I change?"
    assert (first.stop_reason, first.model_calls) == ("end_turn", 4)

    # WHEN the person asks to send it after all, and accepts at the prompt
    second = chat.ask("Send it as it was.")

    # THEN the reply reached MultiMail once, and waits for a human
    accepted = model.last_tool_results(5)[accepted_call]
    assert accepted["status"] == "success"
    assert accepted["content"][0]["json"]["status"] == "pending_scan"  # accepted, scanned, then approved
    sent = outbound(function_env)
    assert len(sent) == outbound_before + 1
    assert sent[-1].status in ("pending_scan", "pending_send_approval")  # scanned, then a person decides
    assert sent[-1].in_reply_to == INVOICE_EMAIL_ID
    assert second.text == "Your reply is queued and waits for human approval in MultiMail."
    # AND the history alternates user/assistant, and all tool calls share one session
    roles = [m["role"] for m in model.requests[-1]["messages"]]
    assert roles == ["user", "assistant"] * 5 + ["user"]
    assert {e["sessionId"] for e in executor.events} == {chat.session_id}
    assert [e["inputText"] for e in executor.events] == ["Answer the invoice email: we pay by Friday."] * 2 + [
        "Send it as it was."
    ]
    model.stubber.assert_no_pending_responses()


def test_the_turn_limit_stops_a_model_that_keeps_calling_tools(
    model: ScriptedModel, executor: RecordingExecutor
) -> None:
    # GIVEN a model that would list the inbox forever, and a limit of two model calls
    model.calls_tool("listInbox", {})
    model.calls_tool("listInbox", {})
    chat = conversation(model, executor, max_turns=2)
    # WHEN the person asks something
    reply = chat.ask("What's new?")
    # THEN the loop stops after two calls and says so
    assert reply.stop_reason == "turn_limit"
    assert reply.model_calls == 2
    assert "turn limit" in reply.text
    assert len(model.requests) == 2
    # AND the next message joins the pending tool results, so the history stays valid for Converse
    model.says("Two new emails.")
    assert chat.ask("Just summarise.").text == "Two new emails."
    last = model.requests[-1]["messages"][-1]
    assert last["role"] == "user"
    assert "toolResult" in last["content"][0]
    assert last["content"][-1] == {"text": "Just summarise."}


def test_a_guardrail_is_passed_on_every_call_and_its_intervention_ends_the_turn(
    model: ScriptedModel, executor: RecordingExecutor
) -> None:
    model.calls_tool("listPendingEmails", {})
    model.says("Sorry, I can't help with that.", stop_reason="guardrail_intervened")
    chat = conversation(model, executor, guardrail=Guardrail("gr1234abcd", "3"))
    reply = chat.ask("What is waiting?")
    expected = {"guardrailIdentifier": "gr1234abcd", "guardrailVersion": "3", "trace": "enabled"}
    assert [r["guardrailConfig"] for r in model.requests] == [expected, expected]
    assert (reply.text, reply.stop_reason) == ("Sorry, I can't help with that.", "guardrail_intervened")


def test_an_unknown_tool_and_invalid_input_are_answered_as_errors_to_the_model(
    model: ScriptedModel, executor: RecordingExecutor, function_env: StandIn
) -> None:
    unknown = model.calls_tool("approveEmail", {"email_id": "x"})
    invalid = model.calls_tool("sendEmail", {"to": ["not-an-address"], "subject": "S", "body": "B"})
    model.says("I cannot do that.")
    chat = conversation(model, executor, Person(True))
    chat.ask("Approve my email.")
    result = model.last_tool_results(1)[unknown]
    assert result["status"] == "error"
    assert "There is no tool 'approveEmail'" in result["content"][0]["json"]["message"]
    # AND invalid input is refused by the function's own validation, as it is for the Bedrock Agent
    refused = model.last_tool_results(2)[invalid]
    assert refused["status"] == "error"
    assert refused["content"][0]["json"]["error"] == "invalid_input"
    assert not [r for r in function_env.requests if r.method == "POST"]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, ["throttling", MODEL_ID]),
        ("AccessDeniedException", 403, ["access denied", MODEL_ID, "bedrock:InvokeModel", "us-east-1"]),
        ("ValidationException", 400, ["rejected the request", "supports tool use"]),
        ("ModelNotReadyException", 429, ["not ready"]),
    ],
)
def test_a_bedrock_error_ends_the_loop_with_a_clear_message(
    model: ScriptedModel, executor: RecordingExecutor, code: str, status: int, expected: list[str]
) -> None:
    # GIVEN Bedrock refuses the call
    model.fails(code, "The service said no.", status)
    # WHEN the person asks something
    with pytest.raises(ChatError) as raised:
        conversation(model, executor).ask("Check my inbox")
    # THEN the loop ends with one line that says what to do
    message = str(raised.value)
    assert message.startswith("Bedrock: ")
    assert "\n" not in message
    for part in expected:
        assert part in message
    assert executor.events == []
