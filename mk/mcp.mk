# `make mcp`: the email tools in any local MCP client (Claude Desktop, Claude Code, MCP Inspector),
# served as the AgentCore Gateway serves them (docs/gateway.md). Included by the Makefile (`-include mk/*.mk`).
#
# stdio by default (stdout is the MCP channel; logs go to stderr). MCP_HTTP_PORT=8765 serves
# streamable HTTP at http://127.0.0.1:8765/mcp instead. Against the loopback stand-in and moto,
# unless MULTIMAIL_API_URL is set (then real MultiMail, key from MULTIMAIL_SECRET_ID), as make invoke.

.PHONY: mcp
mcp: $(DEV_STAMP) ## The tools as a local MCP server on stdio (MCP_HTTP_PORT=8765 for HTTP; VERBOSE=1 for logs)
	@PYTHONPATH=functions:. $(PY) -m devtools.mcp_server $(if $(MCP_HTTP_PORT),--http '$(MCP_HTTP_PORT)') $(if $(VERBOSE),--verbose)
