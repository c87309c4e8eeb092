# The hardening matrix (tests/hardening/): `make test` runs it with the fast hypothesis profile;
# `make fuzz` runs the same tests with the fuzz profile (fresh randomness, 25x the examples).
# A whole run writes its counts to build/hardening-counts-<profile>.json (fast or fuzz); `make
# hardening-table` prints the last of each as the table in docs/hardening.md.

.PHONY: fuzz
fuzz: $(DEV_STAMP) ## The hardening matrix with thousands of hypothesis examples (several minutes), then its counts
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/hardening -q --hypothesis-show-statistics $(PYTEST_ARGS)
	@echo
	@$(PY) -m tests.hardening.counts

.PHONY: hardening-table
hardening-table: $(DEV_STAMP) ## Print the last fast and fuzz hardening counts (build/hardening-counts-<profile>.json) as a table
	@$(PY) -m tests.hardening.counts
