"""The agent's rules, one text for every door (prompts/agent_rules.md).

The part before the `---` line is the brief: the MCP instructions of the AgentCore Gateway and of
`make mcp` (the gateway allows 2,048 characters). The whole text, brief included, is the Bedrock
Agent's instruction and the Converse loop's system prompt. `make openapi` writes both into
template.yaml; a test keeps them equal to this file.
"""

from __future__ import annotations

from pathlib import Path

RULES_PATH = Path(__file__).resolve().parent / "agent_rules.md"
BRIEF_END = "\n---\n"


def _text() -> str:
    return RULES_PATH.read_text(encoding="utf-8")


def brief() -> str:
    """The rules in one paragraph: what MCP clients are told when they connect."""
    return _text().partition(BRIEF_END)[0].strip()


def full() -> str:
    """Every rule: the brief, then the rules it sums up."""
    head, _, rest = _text().partition(BRIEF_END)
    return f"{head.strip()}\n\n{rest.strip()}"
