# `make connect`: from the deployed stack's outputs to a connected MCP client (docs/deploy.md).
# Included by the Makefile (`-include mk/*.mk`).
#
# STACK (default: samconfig.toml's stack_name) and REGION (default: your AWS configuration) name the
# stack; SMOKE=1 also lists the tools and reads the inbox once (read-only); URL=... runs the smoke
# check against another MCP endpoint, such as `make mcp` served with MCP_HTTP_PORT. TOKEN=1 prints only
# an access token from the stack's own Cognito user pool (CreateGatewayUserPool=true), for
# `export MULTIMAIL_GATEWAY_TOKEN=$(make -s connect TOKEN=1)`.

.PHONY: connect
# STACK_NAME given to make (as for `make deploy STACK_NAME=...`) names the stack too.
connect: $(DEV_STAMP) ## Print MCP client set-ups for the deployed gateway (SMOKE=1 checks it, TOKEN=1 prints a Cognito token; STACK=, REGION=)
	@PYTHONPATH=functions:. $(PY) -m devtools.connect \
		$(if $(STACK),--stack '$(STACK)',$(if $(filter command line environment,$(origin STACK_NAME)),--stack '$(STACK_NAME)')) \
		$(if $(REGION),--region '$(REGION)') $(if $(SMOKE),--smoke) $(if $(URL),--url '$(URL)') \
		$(if $(TOKEN),--token)
