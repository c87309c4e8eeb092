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
validate: $(DEV_STAMP) $(SAM_STAMP) ## cfn-lint, sam validate --lint, and the template's fingerprints
	$(VENV)/bin/cfn-lint template.yaml
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

# `make test` (in the Makefile) runs these after lint and pytest.
test: template-check build-check

.PHONY: deploy
deploy: build ## Deploy with samconfig.toml's defaults (GUIDED=1 asks for every parameter)
	SAM_CLI_TELEMETRY=0 $(SAM) deploy $(if $(GUIDED),--guided)

.PHONY: delete
delete: $(SAM_STAMP) ## Delete the stack (asks first)
	SAM_CLI_TELEMETRY=0 $(SAM) delete --stack-name $(STACK_NAME)

.PHONY: logs
logs: $(SAM_STAMP) ## Follow the function's logs in CloudWatch
	SAM_CLI_TELEMETRY=0 $(SAM) logs --stack-name $(STACK_NAME) --tail
