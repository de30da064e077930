# Two commands for a new user: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run the whole system on its embedded default (SQLite, in-process transport) with demo data
run: $(STAMP)
	$(BIN)/indbetaling run

## run all tests; starts throwaway PostgreSQL and RabbitMQ when no URLs are configured
## (not for the fast tier, PYTEST_ARGS='-m "not slow"', which needs neither)
INDBETALING_TEST_SERVICES ?= $(if $(findstring not slow,$(PYTEST_ARGS)),none,all)
test: $(STAMP)
	INDBETALING_TEST_SERVICES=$(INDBETALING_TEST_SERVICES) \
	$(BIN)/python scripts/with_services.py -- $(BIN)/pytest -n 2 $(PYTEST_ARGS)

## the fast tier: every rule on SQLite and in memory, no services, well under a minute
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

## the system end to end, each figure beside its limit measured in the same run (README,
## "Benchmarks"); BENCH_ARGS='--quick --json bench.json' for the small version and the JSON
bench: $(STAMP)
	$(BIN)/indbetaling bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
