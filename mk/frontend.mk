# Frontend (issue 3): React + Vite + TypeScript under frontend/. npm ci runs
# again only when the lock file changes, the build only when a source does.

FRONTEND_DIST := frontend/dist
FRONTEND_DEPS := frontend/node_modules/.package-lock.json
FRONTEND_SRC := $(shell find frontend/src frontend/generated frontend/public -type f 2>/dev/null) \
	frontend/index.html frontend/vite.config.ts frontend/tsconfig.json frontend/package.json

# The page's API types are generated from the producer's OpenAPI document.
OPENAPI_JSON := build/openapi.json
API_TYPES := frontend/generated/api-types.ts

SETUP += frontend-deps chromium
TEST_SETUP += frontend-build frontend-unit
FAST_SETUP += frontend-build chromium
LINT_TARGETS += frontend-typecheck frontend-lint frontend-types-check
FORMAT_TARGETS += frontend-format
RUN_SETUP += frontend-build
HELP_Frontend += frontend-build frontend-dev frontend-unit frontend-typecheck frontend-lint \
	frontend-format frontend-types frontend-types-check frontend-deps
HELP_Setup += chromium

.PHONY: frontend-deps frontend-build frontend-unit frontend-typecheck frontend-lint frontend-dev \
	frontend-format frontend-types frontend-types-check chromium

frontend-deps: $(FRONTEND_DEPS) ## npm ci in frontend/ (from the committed lock file)

$(FRONTEND_DEPS): frontend/package-lock.json frontend/package.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend-build: $(FRONTEND_DIST)/index.html ## build the page into frontend/dist (only when sources changed)

$(FRONTEND_DIST)/index.html: $(FRONTEND_DEPS) $(FRONTEND_SRC)
	cd frontend && npm run --silent build

frontend-unit: $(FRONTEND_DEPS) ## Vitest unit tests of the page and its API client
	cd frontend && npx vitest run

frontend-typecheck: $(FRONTEND_DEPS) ## TypeScript strict type check of the page and its tests
	cd frontend && npx tsc --noEmit

# The same npm scripts the pre-commit hooks run, so the rules live in frontend/.
frontend-lint: $(FRONTEND_DEPS) ## ESLint and the Prettier format check of the page and its tests
	cd frontend && npm run --silent lint && npm run --silent format:check

frontend-format: $(FRONTEND_DEPS) ## Prettier rewrites the page and its tests in place
	cd frontend && npm run --silent format

# What the producer serves at /openapi.json, without starting it.
$(OPENAPI_JSON): $(VENV_RUN) $(shell find src/countq -name '*.py')
	@mkdir -p $(@D)
	$(PY) -c 'import json; from countq.api.app import create_app; \
		print(json.dumps(create_app().openapi(), indent=2))' >$@

frontend-types: $(FRONTEND_DEPS) $(OPENAPI_JSON) ## regenerate the page's API types from the producer's OpenAPI document
	cd frontend && npx openapi-typescript ../$(OPENAPI_JSON) --output $(API_TYPES:frontend/%=%)

frontend-types-check: $(FRONTEND_DEPS) $(OPENAPI_JSON) ## fail when the page's API types are older than the API (make frontend-types)
	cd frontend && npx openapi-typescript ../$(OPENAPI_JSON) --output $(API_TYPES:frontend/%=%) --check

frontend-dev: $(FRONTEND_DEPS) ## Vite dev server with hot reload; API calls go to a producer on :5080
	cd frontend && npx vite

# The end-to-end tests drive Debian's Chromium; a browser download is neither
# wanted nor possible here.
chromium: ## install Debian's chromium when missing (for the end-to-end tests)
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }
