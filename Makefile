# Two commands do all the set-up on a fresh clone: `make plan` and `make test`.
# They need a Python from 3.11 to 3.13, git and make, and nothing from pip: uv is used from PATH
# when it is there, otherwise bootstrap/get_uv.py (standard library only) installs a pinned uv
# once into .tools/. The locked dependencies go into .venv/, made with $(PYTHON) (never a
# downloaded Python): `make test PYTHON=python3.13` to use another.
UV_VERSION := 0.13.8
UV_LOCAL := $(CURDIR)/.tools/uv-$(UV_VERSION)/bin/uv
UV ?= $(or $(shell command -v uv 2>/dev/null),$(UV_LOCAL))
PYTHON ?= python3
STACK ?= dev
RUN = $(UV) run --frozen --no-sync
BOOTSTRAP = $(if $(filter $(UV_LOCAL),$(UV)),$(UV_LOCAL))

.PHONY: sync plan render test lint types unit unit-python reference bench spark-settings clean twin-build twin-up twin-down e2e bench-twin e2e-data-build e2e-data

$(UV_LOCAL):
	@echo "uv not on PATH: installing uv $(UV_VERSION) into .tools/ (once)"
	@command -v $(PYTHON) >/dev/null || { echo "no $(PYTHON) found: install Python 3.11 to 3.13 (Debian/Ubuntu: apt-get install python3)" >&2; exit 1; }
	@$(PYTHON) bootstrap/get_uv.py $(UV_VERSION) $@

sync: $(BOOTSTRAP)
	@$(UV) sync --frozen --compile-bytecode --quiet --python $(PYTHON)

plan: sync ## offline plan of a stack (default dev), like `helm template` for the whole program
	$(RUN) spark-streams plan --stack $(STACK)

render: sync
	$(RUN) spark-streams render --stack $(STACK)

lint: sync
	@echo "== ruff (lint, format)"
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

types: sync
	@echo "== mypy --strict (project and .ci/, then policies/)"
	@$(RUN) mypy . .ci
	@cd policies && $(RUN) mypy --exclude '^venv/' .  # venv/: the pack's own virtualenv

unit: sync
	@echo "== pytest under $$($(RUN) python -c 'import platform as p; print(p.python_implementation(), p.python_version())') ($(PYTHON), $${UV_PROJECT_ENVIRONMENT:-.venv})"
	@$(RUN) pytest

# The unit suite under PYTHON in a virtualenv of its own, .venv-<version>, so that another
# interpreter's run cannot stand in for it: `make unit-python PYTHON=/usr/bin/python3`.
unit-python: $(BOOTSTRAP)
	@version=$$($(PYTHON) -c 'import platform; print(platform.python_version())') && \
		UV_PROJECT_ENVIRONMENT=.venv-$$version $(MAKE) --no-print-directory unit

test: lint types unit ## everything CI runs

reference: sync ## regenerate Pulumi.yaml's config block and the settings tables of docs/streams.md
	$(RUN) python -m spark_streams.reference

bench: sync ## scale benchmark; figures in benchmarks/out/
	$(RUN) python benchmarks/plan_scale.py

spark-settings: sync ## the table of a Spark release's setting types, from its sources on Maven Central
	@test -n "$(SPARK)" || { echo "usage: make spark-settings SPARK=3.5.9 [SPARK_SETTINGS_FLAGS='--allow-missing spark-kubernetes']"; exit 2; }
	$(RUN) python -m spark_streams.spark_settings.generate $(SPARK) $(SPARK_SETTINGS_FLAGS)

include twin/twin.mk

clean:
	rm -rf .twin .twin-e2e .twin-report .e2e-data-report .venv .venv-* .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis benchmarks/out
