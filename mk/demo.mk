# Run the handler locally: the MultiMail stand-in + moto, no AWS account, no Docker.
# devtools/local_run.py is the command line; the local environment it runs in is devtools/local_env.py
# (shared with the tests, the bench, the chat and the MCP server), the story is devtools/demo.py.

SANDBOX_PORT ?= 8025
LOCAL_RUN := PYTHONPATH=functions:. $(PY) -m devtools.local_run

.PHONY: demo
demo: $(DEV_STAMP) ## The whole story locally: inbox, read, reply, send, human approval, delivery (VERBOSE=1 for logs)
	@$(LOCAL_RUN) demo --port "$(SANDBOX_PORT)" $(if $(VERBOSE),--verbose)

.PHONY: invoke
invoke: $(DEV_STAMP) ## One event through the handler: make invoke EVENT=events/send.json (real MultiMail if MULTIMAIL_API_URL is set)
	@$(LOCAL_RUN) invoke "$(EVENT)" $(if $(VERBOSE),--verbose)
