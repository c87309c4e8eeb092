# Your own agent loop on the Bedrock Converse API, with the same email tools: converse_agent/,
# described in docs/converse.md. Included by the Makefile (`-include mk/*.mk`).
#
# The model always runs on Amazon Bedrock, so this needs AWS credentials allowed to
# bedrock:InvokeModel on the model (MODEL_ID, default: template.yaml's FoundationModel), with
# access to the model enabled in the Region. The tools run in this process against the local
# MultiMail stand-in (its key in moto's Secrets Manager; no MultiMail account), unless
# FUNCTION_NAME names the deployed function (the stack's FunctionName output): then each tool call
# is a Lambda invoke, which also needs lambda:InvokeFunction on it.
#
#   make chat PROMPT="Check my inbox"
#   make chat                                          # interactive; an empty line ends it
#   make chat FUNCTION_NAME=... GUARDRAIL_ID=... GUARDRAIL_VERSION=1 MODEL_ID=... REGION=...

CHAT_ARGS = $(if $(MODEL_ID),--model-id '$(MODEL_ID)') \
	$(if $(REGION),--region '$(REGION)') \
	$(if $(FUNCTION_NAME),--function-name '$(FUNCTION_NAME)') \
	$(if $(GUARDRAIL_ID),--guardrail-id '$(GUARDRAIL_ID)' --guardrail-version '$(GUARDRAIL_VERSION)') \
	$(if $(MAX_TURNS),--max-turns '$(MAX_TURNS)')

.PHONY: chat
chat: $(DEV_STAMP) ## Chat with the email tools on the Converse API (needs Bedrock access): make chat PROMPT="Check my inbox"
	@$(PY) -m converse_agent $(if $(PROMPT),'$(subst ','\'',$(PROMPT))') $(CHAT_ARGS)
