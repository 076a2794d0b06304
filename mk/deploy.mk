# Deployment (issues 6 and 10): the importer Lambda zip, the deploy/destroy
# scripts, and their replay against moto (tests/repo/deploy, part of make test).
# AWS environments themselves are only reached by scripts/deploy.sh, never by make test.
DEPLOY_SCRIPTS := scripts/deploy.sh scripts/destroy.sh scripts/lib/common.sh scripts/build-importer-zip.sh
ENV ?= dev

SETUP += deploy-replay-tools
HELP_Deploy += deploy-dry-run destroy-dry-run importer-zip deploy-replay lint-deploy
HELP_Setup += deploy-replay-tools
LINT_TARGETS += lint-deploy

.PHONY: lint-deploy importer-zip deploy-dry-run destroy-dry-run deploy-replay-tools deploy-replay

lint-deploy: ## shellcheck deploy.sh, destroy.sh, their lib/common.sh and build-importer-zip.sh
	$(VENV)/bin/shellcheck -x $(DEPLOY_SCRIPTS)

importer-zip: ## build the importer Lambda zip (build/importer.zip) from PyPI wheels for python3.11 x86_64
	scripts/build-importer-zip.sh build/importer.zip

deploy-dry-run: ## print every command deploy.sh would run for ENV (default dev); runs none
	scripts/deploy.sh --profile "$${AWS_PROFILE:-default}" --region "$${AWS_REGION:-eu-central-1}" --env $(ENV) --dry-run

destroy-dry-run: ## print every command destroy.sh would run for ENV (default dev); runs none
	scripts/destroy.sh --profile "$${AWS_PROFILE:-default}" --region "$${AWS_REGION:-eu-central-1}" --env $(ENV) --dry-run --allow-prod

# The replay's RDS stand-in is a private MariaDB server with a TLS certificate.
deploy-replay-tools: ## install what the deploy replay needs from Debian when missing (mariadb-server, openssl)
	@command -v mariadb-install-db >/dev/null && command -v openssl >/dev/null \
		|| { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q mariadb-server openssl; }

deploy-replay: venv deploy-replay-tools ## replay deploy.sh and destroy.sh for test and prod against moto
	$(PY) -m pytest tests/repo/deploy $(ARGS)
