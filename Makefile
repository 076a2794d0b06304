# countq: `make run` starts the whole stack on this host, `make test` checks everything.
# Area targets live in mk/*.mk; they add themselves to RUN_SETUP, TEST_SETUP and LINT_TARGETS.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_SETUP :=
TEST_SETUP :=
LINT_TARGETS :=

include $(wildcard mk/*.mk)

.PHONY: help venv run test test-app pytest lint bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u \
		| awk 'BEGIN {FS = ":.*## "} {printf "  %-20s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create .venv and install countq with its dev tools

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

run: venv $(RUN_SETUP) ## the whole stack on this host (embedded Redis + SQLite unless REDIS_*/MYSQL_* are set)
	$(VENV)/bin/countq dev

lint: venv $(LINT_TARGETS) ## ruff, mypy and every area's linters
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

pytest: venv ## run pytest only (ARGS="-k name" to pick tests)
	$(PY) -m pytest $(ARGS)

test: venv $(TEST_SETUP) lint ## install what the tests need, lint, run every test
	$(PY) -m pytest

test-app: venv frontend-build chromium ## the application's tests only (tests/unit, tests/integration): the fast loop
	$(PY) -m pytest tests/unit tests/integration $(ARGS)

bench: venv ## benchmarks: figures beside a naive baseline run in the same process
	scripts/bench-tools.sh
	$(PY) bench/run_all.py

clean: ## remove local state (.data) and build output
	rm -rf .data build frontend/dist
