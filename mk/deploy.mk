# Deployment (issue 6): the importer Lambda zip and the deploy/destroy scripts.
# AWS environments themselves are only reached by scripts/deploy.sh, never by make test.
DEPLOY_SCRIPTS := scripts/deploy.sh scripts/destroy.sh scripts/lib/common.sh scripts/build-importer-zip.sh
ENV ?= dev

LINT_TARGETS += lint-deploy

.PHONY: lint-deploy importer-zip deploy-dry-run destroy-dry-run

lint-deploy: ## shellcheck deploy.sh, destroy.sh, their lib/common.sh and build-importer-zip.sh
	.venv/bin/shellcheck -x $(DEPLOY_SCRIPTS)

importer-zip: ## build the importer Lambda zip (build/importer.zip) from PyPI wheels for python3.11 x86_64
	scripts/build-importer-zip.sh build/importer.zip

deploy-dry-run: ## print every command deploy.sh would run for ENV (default dev); runs none
	scripts/deploy.sh --profile "$${AWS_PROFILE:-default}" --region "$${AWS_REGION:-eu-west-1}" --env $(ENV) --dry-run

destroy-dry-run: ## print every command destroy.sh would run for ENV (default dev); runs none
	scripts/destroy.sh --profile "$${AWS_PROFILE:-default}" --region "$${AWS_REGION:-eu-west-1}" --env $(ENV) --dry-run --allow-prod
