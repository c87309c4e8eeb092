# Every workflow is one target. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The function runs on python3.13. Prefer the same interpreter for the dev environment (a
# pyenv shim may exist without working, so each candidate is run); fall back to python3.
PYTHON ?= $(shell for c in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	"$$c" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { command -v "$$c"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
DEV_STAMP := $(VENV)/.installed

$(DEV_STAMP): requirements-dev.txt layers/dependencies/requirements.txt
	@echo "==> creating $(VENV) with $(PYTHON) and installing pinned dependencies (about a minute, once)"
	@test -n "$(PYTHON)" || { echo "No python3 found: install Python 3.11+ or set PYTHON=/path/to/python3"; exit 1; }
	@$(PYTHON) -m venv $(VENV)
	@# pip's own lines, one per package, so a first run is never silent; its errors go to stderr as they are.
	@set -o pipefail; $(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt \
		| awk '/^Collecting /{n++; printf "    %3d %s\n", n, $$2; fflush()} /^Successfully installed/{print "    installed " NF-2 " packages"}'
	@touch $@

.PHONY: help
help: ## Show this list
	@# Colour only on a terminal, and never with NO_COLOR set (https://no-color.org): piped output stays plain.
	@if [ -t 1 ] && [ -z "$${NO_COLOR:-}" ]; then on=$$'\033[36m'; off=$$'\033[0m'; else on=; off=; fi; \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %s%-15s%s %s\n", on, $$1, off, $$2}' \
		$(MAKEFILE_LIST)

.PHONY: venv
venv: $(DEV_STAMP) ## Create .venv with the pinned dev dependencies

.PHONY: lint
lint: $(DEV_STAMP) ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: format
format: $(DEV_STAMP) ## Fix what ruff can fix and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: pytest
pytest: $(DEV_STAMP) ## Run the pytest suite only
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: openapi
openapi: $(DEV_STAMP) ## Regenerate openapi/ (schema and gateway tools), their copies in template.yaml and the README's table of actions
	PYTHONPATH=functions $(PY) -m tools.openapi

.PHONY: test
test: lint ## Everything CI checks: lint, types, the tests, template checks, sam build and its artifact check
	@# The tests and the template checks side by side: pytest mostly waits on loopback servers, the
	@# checks (and their first-run venvs) want the CPU. Each one's output is printed whole when it ends.
	@$(MAKE) --no-print-directory -j2 --output-sync=target pytest template-check
	@$(MAKE) --no-print-directory build-check

.PHONY: clean
clean: ## Remove the virtual environments and build output
	rm -rf $(VENV) .venv-* .aws-sam .pytest_cache .mypy_cache .ruff_cache

-include mk/*.mk
