"""`make mcp`: the email function's tools in any local MCP client, as the AgentCore Gateway serves them."""
