# Two commands matter: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test chromium lint typecheck unit integration e2e bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

run: install
	PLANPORT_HOST=$(HOST) PLANPORT_PORT=$(PORT) $(BIN)/planport demo
	PLANPORT_HOST=$(HOST) PLANPORT_PORT=$(PORT) $(BIN)/planport serve

# Debian's Chromium drives the end-to-end tests; Playwright's own browser download is not used.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: install-test
	$(BIN)/ruff check planport tests benchmarks examples
	$(BIN)/ruff format --check planport tests benchmarks examples

typecheck: install-test
	$(BIN)/mypy

test: install-test chromium lint typecheck
	$(BIN)/pytest -n 2 tests

unit: install-test
	$(BIN)/pytest tests/unit

integration: install-test
	$(BIN)/pytest tests/integration

e2e: install-test chromium
	$(BIN)/pytest tests/e2e

bench: install-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
