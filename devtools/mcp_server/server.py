"""`make mcp`: the mailbox's tools in any local MCP client, served the way the AgentCore Gateway serves them.

    python -m devtools.mcp_server                # stdio: Claude Desktop, Claude Code, MCP Inspector
    python -m devtools.mcp_server --http 8765    # streamable HTTP at http://127.0.0.1:8765/mcp

The tool list is the generated tool schema (openapi/email_actions.tools.json, `make openapi`), the
one the template gives the gateway target. Each call runs the real handler,
`email_actions.app.lambda_handler`, in this process as a gateway-shaped invocation: the arguments as
the event, and a Lambda context whose client context names the tool as `mail___<tool>`.

By default MultiMail is the loopback stand-in and Secrets Manager and DynamoDB are moto, as for
`make demo` and `make invoke`: nothing leaves 127.0.0.1. With MULTIMAIL_API_URL set, the calls go to
that MultiMail with the key from the secret MULTIMAIL_SECRET_ID (your AWS credentials), as
`make invoke` does. stdout is the MCP channel: every log line goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext

import prompts
from devtools.local_env import LocalRunError, function_environment, function_logs_to
from devtools.mcp_server.invocation import call_tool

ROOT = Path(__file__).resolve().parents[2]
TOOLS_PATH = ROOT / "openapi" / "email_actions.tools.json"
SERVER_NAME = "multimail-email"
INSTRUCTIONS = prompts.brief()  # the gateway's MCP instructions too: one text of the rules

log = logging.getLogger("devtools.mcp_server")


def load_tools(path: Path = TOOLS_PATH) -> list[dict[str, Any]]:
    """The generated tool definitions (name, description, inputSchema)."""
    tools: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return tools


def mcp_tools(definitions: list[dict[str, Any]]) -> list[types.Tool]:
    return [
        types.Tool(name=tool["name"], description=tool["description"], input_schema=tool["inputSchema"])
        for tool in definitions
    ]


def tool_result(result: dict[str, Any]) -> types.CallToolResult:
    """The function's answer as an MCP result: the JSON as text, and an error flag on error answers."""
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(result, ensure_ascii=False))],
        structured_content=result,
        is_error="error" in result,
    )


def build_server(definitions: list[dict[str, Any]]) -> Server[Any]:
    tools = mcp_tools(definitions)

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        return types.ListToolsResult(tools=tools)

    async def call(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> Any:
        log.info("tool call: %s", params.name)
        # The arguments go on as the client sent them: the function checks them, as behind the gateway.
        arguments: Any = params.arguments if params.arguments is not None else {}
        result = await anyio.to_thread.run_sync(call_tool, params.name, arguments)
        return tool_result(result)

    return Server(SERVER_NAME, instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call)


async def serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve_http(server: Server[Any], port: int) -> None:
    import uvicorn

    log.info("streamable HTTP at http://127.0.0.1:%d/mcp", port)
    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.mcp_server", description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on 127.0.0.1:PORT, not stdio")
    parser.add_argument("--verbose", action="store_true", help="the function's INFO logs (on stderr)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="mcp_server: %(message)s")
    log.setLevel(logging.INFO)
    try:
        definitions = load_tools()
        server = build_server(definitions)
        with function_environment(verbose=args.verbose) as mode, function_logs_to(sys.stderr):
            log.info("%d tools; %s", len(definitions), mode)
            if args.http:
                serve_http(server, args.http)
            else:
                anyio.run(serve_stdio, server)
    except LocalRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
