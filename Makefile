# Two commands do all the set-up on a fresh clone: `make plan` and `make test`.
# They need Python 3.11, git and make: uv is used from PATH when it is there, otherwise a pinned
# uv is installed once into .tools/ (inside the project, never into the system interpreter).
UV_VERSION := 0.13.8
UV_LOCAL := $(CURDIR)/.tools/uv-$(UV_VERSION)/bin/uv
UV ?= $(or $(shell command -v uv 2>/dev/null),$(UV_LOCAL))
STACK ?= dev
RUN = $(UV) run --frozen --no-sync

.PHONY: sync plan render test lint types unit bench clean twin-build twin-up twin-down e2e bench-twin

$(UV_LOCAL):
	@echo "uv not on PATH: installing uv $(UV_VERSION) into .tools/ (once)"
	@python3 -m venv $(dir $(UV_LOCAL)).. && $(dir $(UV_LOCAL))pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

sync: $(if $(filter $(UV_LOCAL),$(UV)),$(UV_LOCAL))
	@$(UV) sync --frozen --compile-bytecode --quiet

plan: sync ## offline plan of a stack (default dev), like `helm template` for the whole program
	$(RUN) spark-streams plan --stack $(STACK)

render: sync
	$(RUN) spark-streams render --stack $(STACK)

lint: sync
	@echo "== ruff (lint, format)"
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

types: sync
	@echo "== mypy --strict (project, then policies/)"
	@$(RUN) mypy .
	@cd policies && $(RUN) mypy --exclude '^venv/' .  # venv/: the pack's own virtualenv

unit: sync
	@echo "== pytest"
	@$(RUN) pytest

test: lint types unit ## everything CI runs

bench: sync ## scale benchmark; figures in benchmarks/out/
	$(RUN) python benchmarks/plan_scale.py

include twin/twin.mk

clean:
	rm -rf .twin .twin-report .venv policies/venv .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis benchmarks/out
