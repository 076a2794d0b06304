# Documentation (issue 23): the mkdocs-material site under docs/ (mkdocs.yml).
# `make lint` builds it strictly: a broken relative link, a missing anchor or a
# page left out of the nav fails. Material's notice about MkDocs 2 is noise here.
DOCS_ENV := NO_MKDOCS_2_WARNING=1
DOCS_DIAGRAMS := $(patsubst %.dot,%.svg,$(wildcard docs/architecture/*.dot))

LINT_TARGETS += docs-check docs-build
HELP_Develop += docs docs-build docs-check docs-config docs-results docs-diagrams

.PHONY: docs docs-build docs-check docs-config docs-results docs-diagrams

docs: venv ## serve the documentation site on http://127.0.0.1:8000/ (reloads on edits)
	$(DOCS_ENV) $(VENV)/bin/mkdocs serve --strict --dev-addr 127.0.0.1:8000

# Not --quiet: it hides the warnings strict mode counts, and the build passes.
docs-build: venv ## build the documentation site into build/site with mkdocs --strict
	$(DOCS_ENV) $(VENV)/bin/mkdocs build --strict

# Generated pages: the settings table from countq.config.Settings (--check also
# fails on a setting without a description).
docs-config: venv ## regenerate the settings table of docs/configuration.md from countq.config.Settings
	$(PY) scripts/docs_config.py

# The benchmark figures and the capacity model from bench/results.json, which make bench writes.
docs-results: venv ## render docs/performance/results.md and capacity.md from bench/results.json (make bench does)
	$(PY) scripts/docs_results.py
	$(PY) scripts/docs_capacity.py

docs-check: venv ## fail when a generated docs page is stale (make docs-config, make docs-results)
	$(PY) scripts/docs_config.py --check
	$(PY) scripts/docs_results.py --check
	$(PY) scripts/docs_capacity.py --check

# The diagrams are drawn here, not by a script a reader's browser would fetch
# from a CDN; the SVGs are committed, so only a changed .dot needs Graphviz.
docs-diagrams: $(DOCS_DIAGRAMS) ## render docs/architecture/*.dot to SVG (Debian's graphviz, installed when missing)

docs/architecture/%.svg: docs/architecture/%.dot
	@command -v dot >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q graphviz; }
	dot -Tsvg $< -o $@
