# Every target sets itself up: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed
DEMO := var/demo

.PHONY: run test lint typecheck unit bench clean

$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

run: $(DEV_STAMP)
	$(BIN)/affroute generate --out $(DEMO) --seed 7
	$(BIN)/affroute route $(DEMO)/tickets.jsonl --config examples/affiliate.yaml \
		--context $(DEMO) --out $(DEMO)/decisions.jsonl

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(DEV_STAMP)
	$(BIN)/mypy src

unit: $(DEV_STAMP)
	$(BIN)/pytest

test: lint typecheck unit

bench: $(BENCH_STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
