"""The agent loop on the Converse API: ask the model, run the tools it calls, feed the results back,
until it answers without a tool call or the turn limit is reached."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

import prompts
from converse_agent.errors import bedrock_error
from converse_agent.executors import Executor
from converse_agent.tools import build_event, error_result, tool_config, tool_result

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_bedrock_runtime.type_defs import ConverseResponseTypeDef

    from email_actions.operations import Operation

# The agent's rules, the same text the Bedrock Agent and the MCP doors are given (prompts/agent_rules.md).
SYSTEM_PROMPT = prompts.full()

MAX_TOKENS = 2048
DEFAULT_MAX_TURNS = 10

Confirm = Callable[["Operation", Mapping[str, Any]], bool]
DECLINED = {
    "error": "declined_by_user",
    "message": (
        "The user declined this at the confirmation prompt, so nothing was sent. Ask the user what to change; "
        "do not call the tool again unless they ask."
    ),
}


@dataclass(frozen=True, slots=True)
class Guardrail:
    identifier: str
    version: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The model's last words for one user message, why it stopped, and how many model calls it took."""

    text: str
    stop_reason: str  # Converse's stopReason, or "turn_limit"
    model_calls: int


class Conversation:
    """One chat session: the message history, one session id for every tool call, and the tools."""

    def __init__(
        self,
        client: BedrockRuntimeClient,
        model_id: str,
        operations: Mapping[str, Operation],
        executor: Executor,
        confirm: Confirm,
        *,
        guardrail: Guardrail | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        on_tool_call: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.client = client
        self.model_id = model_id
        self.operations = dict(operations)
        self.executor = executor
        self.confirm = confirm
        self.guardrail = guardrail
        self.max_turns = max_turns
        self.on_tool_call = on_tool_call
        self.session_id = f"converse-{uuid.uuid4().hex}"
        self.messages: list[dict[str, Any]] = []
        self._tool_config = tool_config(self.operations)
        self._input_text = ""

    def ask(self, text: str) -> Reply:
        """Send the user's message; run tool calls until the model answers. Raises ChatError."""
        self._input_text = text
        self._add_user_content([{"text": text}])
        for call in range(1, self.max_turns + 1):
            response = self._converse()
            output: dict[str, Any] = dict(response["output"])
            content: list[dict[str, Any]] = list((output.get("message") or {}).get("content", []))
            uses = [block["toolUse"] for block in content if "toolUse" in block]
            answer = "\n".join(block["text"] for block in content if "text" in block).strip()
            if response["stopReason"] == "tool_use" and uses:
                self.messages.append({"role": "assistant", "content": content})
                self._add_user_content([self._run(use) for use in uses])
                continue
            # No tool to run: keep the turn, without any tool call the model left unfinished.
            kept = [block for block in content if "toolUse" not in block] or [{"text": answer or "(no answer)"}]
            self.messages.append({"role": "assistant", "content": kept})
            return Reply(answer, response["stopReason"], call)
        return Reply(
            f"Stopped after {self.max_turns} model calls without a final answer (the turn limit).",
            "turn_limit",
            self.max_turns,
        )

    def _converse(self) -> ConverseResponseTypeDef:
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": self.messages,
            "system": [{"text": SYSTEM_PROMPT}],
            "toolConfig": self._tool_config,
            "inferenceConfig": {"maxTokens": MAX_TOKENS},
        }
        if self.guardrail is not None:
            request["guardrailConfig"] = {
                "guardrailIdentifier": self.guardrail.identifier,
                "guardrailVersion": self.guardrail.version,
                "trace": "enabled",
            }
        try:
            return self.client.converse(**request)
        except (ClientError, BotoCoreError) as error:
            raise bedrock_error(error, self.model_id, self.client.meta.region_name) from None

    def _run(self, use: Mapping[str, Any]) -> dict[str, Any]:
        tool_use_id = str(use.get("toolUseId", ""))
        name = str(use.get("name", ""))
        tool_input = use.get("input")
        operation = self.operations.get(name)
        if operation is None:
            known = ", ".join(self.operations)
            return error_result(
                tool_use_id, {"error": "unknown_tool", "message": f"There is no tool {name!r}. The tools are: {known}."}
            )
        if not isinstance(tool_input, Mapping):
            return error_result(tool_use_id, {"error": "invalid_input", "message": "The tool input must be an object."})
        self.on_tool_call(name)
        if operation.confirm and not self.confirm(operation, tool_input):
            return error_result(tool_use_id, dict(DECLINED))
        event = build_event(operation, tool_input, session_id=self.session_id, input_text=self._input_text)
        return tool_result(tool_use_id, self.executor(event))

    def _add_user_content(self, blocks: list[dict[str, Any]]) -> None:
        # After the turn limit the history ends with tool results; the next message joins them,
        # because Converse wants user and assistant turns to alternate.
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": "user", "content": blocks})
