# The layer contract (.importlinter, ARCHITECTURE.md's "Components"): entry ->
# services -> adapters -> foundations, imports only going down; the importer
# never imports the queue, the API or the worker.
LINT_TARGETS += lint-imports
HELP_Develop += lint-imports

.PHONY: lint-imports

lint-imports: venv ## import-linter: countq's imports only go down its layers (.importlinter)
	$(VENV)/bin/lint-imports --no-cache
