# Contributor tooling (issue 7): workflow linting, pre-commit, new migrations.
# Also run on its own (`make -f mk/contrib.mk migration`), hence the default VENV.

VENV ?= .venv
LINT_TARGETS += lint-workflows
HELP_Develop += pre-commit migration lint-workflows
MIGRATIONS_DIR ?= src/countq/db/migrations

.PHONY: lint-workflows pre-commit migration

# actionlint runs shellcheck over every `run:` block; pyflakes is off because
# no workflow runs inline Python. zizmor stays offline so a lint never needs
# GitHub's API.
lint-workflows: ## actionlint and zizmor (offline) over .github/workflows
	$(VENV)/bin/actionlint -no-color -shellcheck $(VENV)/bin/shellcheck -pyflakes=
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

pre-commit: ## every pre-commit hook on all tracked files (installs no git hook)
	$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

migration: ## new Alembic revision after the head: make migration MSG="add x column"
	@test -n "$(MSG)" || { echo 'usage: make migration MSG="what it changes"' >&2; exit 2; }
	$(VENV)/bin/python scripts/new-migration.py '$(MIGRATIONS_DIR)' '$(subst ','\'',$(MSG))'
