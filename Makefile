# Every target sets itself up: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed
WEB_STAMP := web/node_modules/.installed
DEMO_DB := var/demo.db
DEMO_URL := sqlite:///$(DEMO_DB)

.PHONY: run test lint typecheck unit bench clean browser

$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# The dashboard's front-end packages (Chart.js, htmx), from the npm registry by lock file.
$(WEB_STAMP): web/package.json web/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null)
	cd web && npm ci --no-audit --no-fund --silent
	touch $@

# A fresh demo database each time: a generated program replayed through the service.
run: $(DEV_STAMP) $(WEB_STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/affroute demo --database-url $(DEMO_URL) --tickets 1500
	$(BIN)/affroute serve --database-url $(DEMO_URL) --host 127.0.0.1 --port 8000

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(DEV_STAMP)
	$(BIN)/mypy src

# Browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

unit: $(DEV_STAMP) $(WEB_STAMP) browser
	$(BIN)/pytest

test: lint typecheck unit

# wrk (Debian) drives the API benchmark from a second process.
bench: $(BENCH_STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/sla.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/tune.py
	$(BIN)/python bench/anomalies.py
	$(BIN)/python bench/ml.py
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
