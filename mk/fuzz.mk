# The hardening matrix (tests/hardening/): `make test` runs it with the fast hypothesis profile;
# `make fuzz` runs the same tests with the fuzz profile (fresh randomness, 25x the examples).
# Both write build/hardening-counts.json; `make hardening-table` prints it as the README table.

.PHONY: fuzz
fuzz: $(DEV_STAMP) ## The hardening matrix with thousands of hypothesis examples (several minutes), then its counts
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/hardening -q --hypothesis-show-statistics $(PYTEST_ARGS)
	@echo
	@$(PY) -m tests.hardening.counts

.PHONY: hardening-table
hardening-table: $(DEV_STAMP) ## Print the counts of the last hardening run (build/hardening-counts.json) as a table
	@$(PY) -m tests.hardening.counts
