"""One text of the agent's rules (prompts/agent_rules.md), given to every door."""

from __future__ import annotations

import prompts
from converse_agent.loop import SYSTEM_PROMPT
from devtools.mcp_server.server import INSTRUCTIONS


def test_every_door_is_given_the_same_rules() -> None:
    # GIVEN the one text WHEN the doors' instructions are read
    # THEN the MCP doors get its brief and the Converse loop all of it (the template: tests/infrastructure)
    assert prompts.brief() == INSTRUCTIONS
    assert prompts.full() == SYSTEM_PROMPT
    assert SYSTEM_PROMPT.startswith(prompts.brief())
    # AND the brief fits the gateway's MCP instructions (AgentCore allows 1 to 2,048 characters)
    assert 1 <= len(prompts.brief()) <= 2_048


def test_the_rules_never_promise_a_person_will_approve_in_every_mode() -> None:
    # GIVEN the rules, which every mailbox's agent reads whatever its oversight mode
    text = " ".join(prompts.full().split())
    # THEN they say that what happens depends on the mode, and name the modes that send after the scan
    assert "depends on the mailbox's oversight mode" in text
    assert "in monitored and autonomous it leaves after MultiMail's scan" in text
    assert "The mailbox uses gated sending" not in text
