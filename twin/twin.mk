# The local twin of the cluster (docs/twin.md). Included by the Makefile; uses its $(UV)/$(RUN).
TWIN_STACKS ?= dev prod
TWIN_ENV = UV="$(UV)" RUN="$(RUN)"

twin-build: sync ## build (or reuse from the cache) every binary the twin runs
	@$(TWIN_ENV) bash twin/build.sh

twin-up: twin-build ## start the twin for STACK; then twin/pulumi up --yes --stack STACK deploys it
	@$(TWIN_ENV) bash twin/up.sh $(STACK)

twin-down: ## stop every process of the twin
	@bash twin/down.sh

# Per stack, side by side: a fresh twin, the scenarios (the first deploys the stack with
# twin/pulumi), then down (also when a scenario fails). What was proven: .twin-report/.
e2e: twin-build
	@rm -rf .twin-report; $(TWIN_ENV) bash twin/e2e.sh $(TWIN_STACKS); status=$$?; \
	$(RUN) python -m tests.e2e.report .twin-report; exit $$status

# WORKERS=n runs the operator with controller.workers n instead of the release's value;
# PARTS="operator" or "engine" runs one part (twin/bench.py); SIZES / ENGINE_SIZES the Ns.
bench-twin: twin-build ## the operator's and the engine's deploy cost for 1 to 200 streams
	@trap 'bash twin/down.sh' EXIT; trap 'exit 1' INT TERM; bash twin/down.sh --quiet; \
	TWIN_CONTROLLER_WORKERS=$(WORKERS) $(TWIN_ENV) bash twin/up.sh $(STACK) && \
	TWIN_BENCH_PARTS="$(PARTS)" TWIN_BENCH_SIZES="$(SIZES)" \
	TWIN_BENCH_ENGINE_SIZES="$(ENGINE_SIZES)" $(RUN) python -m twin.bench

# The data path (docs/data-path.md): each stack's streams as a real Spark job against MinIO,
# which holds them to their own IAM policy. No cluster; servers started and stopped by the run.
e2e-data-build: sync ## build (or reuse from the cache) MinIO and each Spark line
	@$(TWIN_ENV) bash twin/build-data.sh

e2e-data: e2e-data-build ## the data-path scenarios; what was proven: .e2e-data-report/
	@rm -rf .e2e-data-report
	@$(RUN) pytest -n0 -m e2e_data tests/e2e_data; status=$$?; \
	$(RUN) python -m tests.e2e_data.report .e2e-data-report; exit $$status
