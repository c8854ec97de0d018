# Two commands do all the set-up on a fresh clone: `make plan` and `make test`.
UV ?= uv
STACK ?= dev
RUN = $(UV) run --frozen

.PHONY: sync plan render test lint types unit bench clean

sync:
	$(UV) sync --frozen --compile-bytecode

plan: sync ## offline plan of a stack (default dev), like `helm template` for the whole program
	$(RUN) spark-streams plan --stack $(STACK)

render: sync
	$(RUN) spark-streams render --stack $(STACK)

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

types: sync
	$(RUN) mypy .
	cd policies && $(RUN) mypy .

unit: sync
	$(RUN) pytest

test: lint types unit ## everything CI runs

bench: sync ## scale benchmark; figures in benchmarks/out/
	$(RUN) python benchmarks/plan_scale.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis benchmarks/out
