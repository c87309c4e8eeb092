# `make bench`: what a Lambda user pays for, measured on loopback stand-ins. Included by the
# Makefile (`-include mk/*.mk`). docs/performance.md holds the figures and what they mean.
#
# It builds first (`make build`, in mk/sam.mk): figure 5 is the size of what `sam build` leaves, and
# the function processes run the built function code. A benchmark, not a test: it never fails on a
# slow machine, it reports. UPDATE_DOCS=1 writes the table into docs/performance.md (between its
# bench markers); BENCH_ARGS passes options to bench/run.py (e.g. BENCH_ARGS="--samples 21 --runs 5").

.PHONY: bench
bench: $(DEV_STAMP) build ## Benchmark cold start, warm calls, memory, size, shaping (UPDATE_DOCS=1 updates the docs)
	$(PY) -m bench.run $(if $(UPDATE_DOCS),--update-docs) $(BENCH_ARGS)

.PHONY: bench-profile
bench-profile: $(DEV_STAMP) build ## Where a cold start's time goes: -X importtime on one cold send (BENCH_ARGS=ours-gateway: the gateway door)
	$(PY) -m bench.profile $(BENCH_ARGS)
