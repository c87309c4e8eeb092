# The SAM stack: build, template checks, deploy. Included by the Makefile (`-include mk/*.mk`).
#
# The SAM CLI and checkov are heavy and pin their own dependencies, so each gets its own virtual
# environment, made from PyPI on first use like .venv: a fresh clone needs only Python.

SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30

SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
CHECKOV_TEMPLATE := .aws-sam/checkov/template.json

# `sam build` for the python3.13 runtime needs python3.13 on PATH. pyenv's shims exist even when
# 3.13 is not the selected version (and then fail), so each candidate is run, not just found.
RUNTIME_PYTHON = $(shell for c in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$c" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 \
	&& { command -v "$$c"; break; }; done)
NO_RUNTIME_PYTHON := sam build needs Python 3.13 (the function's runtime) and found none: install it \
	(pyenv install 3.13, or your OS package), or put a python3.13 on PATH.

# Read from samconfig.toml, so that the Makefile and `sam` agree on the stack.
STACK_NAME ?= $(shell sed -n 's/^stack_name *= *"\(.*\)"/\1/p' samconfig.toml | head -n 1)

# The Regions docs/deploy.md calls supported, per AgentPath (a test keeps the two equal). `make validate`
# lints each path's template for each of its Regions, so a resource type missing in one fails `make test`;
# `make deploy` refuses a Region outside them. Sources: the AgentCore and Bedrock Agents Region pages,
# and cfn-lint's per-Region resource schemas (see docs/deploy.md, "Regions").
GATEWAY_REGIONS := us-east-1 us-east-2 us-west-1 us-west-2 ca-central-1 sa-east-1 \
	eu-central-1 eu-west-1 eu-west-2 eu-west-3 eu-south-1 eu-south-2 eu-north-1 \
	ap-south-1 ap-south-2 ap-southeast-1 ap-southeast-2 ap-southeast-5 ap-northeast-1 ap-northeast-2
AGENTS_CLASSIC_REGIONS := us-east-1 us-east-2 us-west-2 ca-central-1 sa-east-1 \
	eu-central-1 eu-central-2 eu-west-1 eu-west-2 eu-west-3 \
	ap-south-1 ap-southeast-1 ap-southeast-2 ap-northeast-1 ap-northeast-2
PATH_TEMPLATES := .aws-sam/regions

# No telemetry from CI or tests. Building and validating need a Region but no credentials.
SAM_OFFLINE := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}

$(SAM_STAMP):
	@echo "==> creating $(SAM_VENV) with $(PYTHON) and installing aws-sam-cli==$(SAM_CLI_VERSION)"
	@test -n "$(PYTHON)" || { echo "No python3 found: install Python 3.11+ or set PYTHON=/path/to/python3"; exit 1; }
	@rm -rf $(SAM_VENV) && $(PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	@touch $@

$(CHECKOV_STAMP):
	@echo "==> creating $(CHECKOV_VENV) with $(PYTHON) and installing checkov==$(CHECKOV_VERSION)"
	@test -n "$(PYTHON)" || { echo "No python3 found: install Python 3.11+ or set PYTHON=/path/to/python3"; exit 1; }
	@rm -rf $(CHECKOV_VENV) && $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $@

.PHONY: build
build: $(SAM_STAMP) ## sam build, no container (uses a python3.13 from PATH or pyenv)
	@runtime="$(RUNTIME_PYTHON)"; test -n "$$runtime" || { echo "$(NO_RUNTIME_PYTHON)"; exit 1; }; \
	echo "==> sam build with $$runtime"; \
	PATH="$$(dirname "$$runtime"):$$PATH" LAYER_PYTHON="$$runtime" FUNCTION_PYTHON="$$runtime" \
		$(SAM_OFFLINE) $(SAM) build --parallel

.PHONY: validate
validate: $(DEV_STAMP) $(SAM_STAMP) ## cfn-lint (also per AgentPath for every supported Region), sam validate --lint, fingerprints
	$(VENV)/bin/cfn-lint template.yaml
	@# Each path alone (cfn-lint's Region check ignores conditions), for each Region it is supported in.
	$(PY) -m tools.regions write $(PATH_TEMPLATES)
	$(VENV)/bin/cfn-lint --ignore-checks W8001 --regions $(GATEWAY_REGIONS) -- $(PATH_TEMPLATES)/agentcore-gateway.json
	$(VENV)/bin/cfn-lint --ignore-checks W8001 --regions $(AGENTS_CLASSIC_REGIONS) -- $(PATH_TEMPLATES)/agents-classic.json
	$(SAM_OFFLINE) $(SAM) validate --lint
	$(PY) -m tools.template_schema fingerprints --check

.PHONY: checkov
checkov: $(SAM_STAMP) $(CHECKOV_STAMP) ## checkov on the SAM-transformed template (each skip has its reason inline)
	$(SAM_OFFLINE) $(SAM_VENV)/bin/python -m tools.template_schema transform $(CHECKOV_TEMPLATE)
	$(CHECKOV) --config-file .checkov.yaml --file $(CHECKOV_TEMPLATE)

.PHONY: fingerprints
fingerprints: $(DEV_STAMP) ## Refresh the guardrail and agent fingerprints in template.yaml
	$(PY) -m tools.template_schema fingerprints

.PHONY: template-check
template-check: validate checkov ## All template checks: cfn-lint, sam validate, fingerprints, checkov

.PHONY: build-check
build-check: build $(DEV_STAMP) ## sam build, then check the artifacts (our code only, arm64 layer, imports)
	SAM_BUILD_DIR=.aws-sam/build RUNTIME_PYTHON="$(RUNTIME_PYTHON)" \
		$(PY) -m pytest -p no:cacheprovider -q tests/infrastructure/test_build_artifacts.py

# The Region: REGION=..., else your AWS configuration (AWS_REGION, AWS_DEFAULT_REGION or the profile's
# region), as for any AWS CLI command. The stack: STACK_NAME=..., else samconfig.toml's stack_name.
.PHONY: deploy-check
deploy-check: $(DEV_STAMP) ## Check the stack name and Region before a deploy (make deploy runs it)
	@$(PY) -m tools.deploy_preflight --stack-name '$(STACK_NAME)' $(if $(REGION),--region '$(REGION)') \
		$(if $(filter AgentPath=%,$(PARAMS)),--agent-path '$(patsubst AgentPath=%,%,$(filter AgentPath=%,$(PARAMS)))') \
		--gateway-regions '$(GATEWAY_REGIONS)' --agents-classic-regions '$(AGENTS_CLASSIC_REGIONS)'

.PHONY: deploy
# PARAMS="Name=value ..." replaces samconfig.toml's parameter_overrides (those not named keep the
# template's defaults, which samconfig.toml repeats).
deploy: $(if $(GUIDED),,deploy-check) build ## Deploy with samconfig.toml's defaults (REGION=, STACK_NAME=, PARAMS=; GUIDED=1 asks for every parameter)
	SAM_CLI_TELEMETRY=0 $(SAM) deploy $(if $(GUIDED),--guided,--stack-name '$(STACK_NAME)') \
		$(if $(REGION),--region '$(REGION)') $(if $(PARAMS),--parameter-overrides $(PARAMS))

.PHONY: delete
delete: $(SAM_STAMP) ## Delete the stack (asks first)
	SAM_CLI_TELEMETRY=0 $(SAM) delete --stack-name $(STACK_NAME)

.PHONY: logs
logs: $(SAM_STAMP) ## Follow the function's logs in CloudWatch
	SAM_CLI_TELEMETRY=0 $(SAM) logs --stack-name $(STACK_NAME) --tail
