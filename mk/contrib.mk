# Contributor tooling (issue 7): workflow linting, pre-commit, new migrations.

LINT_TARGETS += lint-workflows
MIGRATIONS_DIR ?= src/countq/migrations

.PHONY: lint-workflows pre-commit migration

# actionlint runs shellcheck over every `run:` block; pyflakes is off because
# no workflow runs inline Python. zizmor stays offline so a lint never needs
# GitHub's API.
lint-workflows: ## actionlint and zizmor (offline) over .github/workflows
	.venv/bin/actionlint -no-color -shellcheck .venv/bin/shellcheck -pyflakes=
	.venv/bin/zizmor --offline --no-progress .github/workflows

pre-commit: ## every pre-commit hook on all tracked files (installs no git hook)
	.venv/bin/pre-commit run --all-files --show-diff-on-failure

# Revision ids are sequential (0001, 0002, ...) so the files sort in the order
# they apply; Alembic's default random ids would not. There is no alembic.ini:
# countq migrate finds the scripts by path, and so does this.
migration: ## new Alembic revision after the head: make migration MSG="add x column"
	@test -n "$(MSG)" || { echo 'usage: make migration MSG="what it changes"' >&2; exit 2; }
	.venv/bin/python -c "$$MIGRATION_PY" '$(MIGRATIONS_DIR)' '$(subst ','\'',$(MSG))'

define MIGRATION_PY
import subprocess
import sys
from pathlib import Path
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
config = Config()
config.set_main_option("script_location", sys.argv[1])
head = ScriptDirectory.from_config(config).get_current_head() or "0000"
script = command.revision(config, message=sys.argv[2], rev_id=f"{int(head) + 1:04d}")
# Straight to the project's style; what is left for `make lint` to flag is
# the part only the author can write (the unused op/sa until upgrade() uses them).
ruff = str(Path(sys.executable).parent / "ruff")
subprocess.run([ruff, "check", "--quiet", "--select", "I", "--fix", script.path], check=True)
subprocess.run([ruff, "format", "--quiet", script.path], check=True)
endef
export MIGRATION_PY
