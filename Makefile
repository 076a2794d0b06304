# countq: `make run` starts the whole stack on this host, `make test` checks everything.
# Area targets live in mk/*.mk; they add themselves to the lists below: SETUP
# (host installs), RUN_SETUP, TEST_SETUP, FAST_SETUP, LINT_TARGETS,
# FORMAT_TARGETS, and HELP_<section> (where `make help` lists a target).

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Root installs from Debian's packages directly; anyone else through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Two stamps: countq alone (what `make run` needs), and countq with the test
# and lint tools (the `dev` extra). The second implies the first.
VENV_RUN := $(VENV)/.installed-run
VENV_DEV := $(VENV)/.installed
SETUP :=
RUN_SETUP :=
TEST_SETUP :=
FAST_SETUP :=
LINT_TARGETS :=
FORMAT_TARGETS :=

HELP_SECTIONS := Develop Frontend Containers Infrastructure Deploy Setup
# The five daily targets first.
HELP_Develop := run test-fast test lint format pytest test-app bench clean
HELP_Setup := setup venv venv-run help

include $(wildcard mk/*.mk)

.PHONY: help setup venv venv-run run test test-fast test-app pytest lint format bench clean

help: ## list the targets, by section
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -f mk/help.awk \
		-v layout='$(foreach s,$(HELP_SECTIONS),$(s) $(HELP_$(s))|)'

setup: venv $(SETUP) ## install what the host needs for the tests (Debian packages, dockerd, npm ci, checkov...); safe to rerun

venv: $(VENV_DEV) ## create .venv with countq and its test and lint tools (the dev extra)

venv-run: $(VENV_RUN) ## create .venv with countq and what running it needs, nothing more

$(VENV_DEV): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(VENV_RUN)

# A venv that already has the dev extra installed for this pyproject.toml has
# countq too: no second install.
$(VENV_RUN): pyproject.toml
	@if [[ $(VENV_DEV) -nt pyproject.toml ]]; then exit 0; fi; set -x; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	$(PY) -m pip install -q --upgrade pip && $(PY) -m pip install -q -e .
	@touch $@

run: venv-run $(RUN_SETUP) ## the whole stack on this host (embedded Redis + SQLite unless REDIS_*/MYSQL_* are set)
	$(VENV)/bin/countq dev

lint: venv $(LINT_TARGETS) ## ruff, mypy and every area's linters
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# ruff's own advice: fix first, then format (a fix can leave code unformatted).
format: venv $(FORMAT_TARGETS) ## rewrite files in place: ruff check --fix + ruff format, and every area's formatter
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

pytest: venv ## run pytest only (ARGS="-k name" to pick tests)
	$(PY) -m pytest $(ARGS)

# --durations=25: CI's log shows where the time goes.
test: setup $(TEST_SETUP) lint ## set up the host, lint, run every test
	$(PY) -m pytest --durations=25 $(ARGS)

test-fast: venv $(FAST_SETUP) ## every test not marked slow (unit + fast integration/repo tests): under 3 minutes
	$(PY) -m pytest -m 'not slow' --durations=10 $(ARGS)

test-app: venv frontend-build chromium ## the application's tests only (tests/unit, tests/integration)
	$(PY) -m pytest tests/unit tests/integration $(ARGS)

bench: venv ## benchmarks: figures beside a naive baseline run in the same process; renders their pages
	scripts/bench-tools.sh
	$(PY) bench/run_all.py
	$(MAKE) --no-print-directory docs-results

clean: ## remove local state (.data) and build output
	rm -rf .data build frontend/dist
