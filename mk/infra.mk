# Infrastructure (issue 5): checkov lives in its own venv because it pins an
# older boto3 than moto needs.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30

SETUP += checkov-venv
# tests/repo/infra/test_static.py runs checkov (seconds): part of make test-fast
# (its terraform validate of every root is slow).
FAST_SETUP += checkov-venv
LINT_TARGETS += tf-fmt
FORMAT_TARGETS += tf-format
HELP_Infrastructure += checkov tf-fmt tf-format
HELP_Setup += checkov-venv

.PHONY: checkov-venv tf-fmt tf-format checkov

checkov-venv: $(CHECKOV_VENV)/bin/checkov ## create .venv-checkov with checkov (used by tests/repo/infra)

$(CHECKOV_VENV)/bin/checkov:
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'

# fmt needs no provider: an empty CLI config keeps ~/.terraformrc out of it.
tf-fmt: ## terraform fmt -check on terraform/
	TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive terraform

tf-format: ## terraform fmt on terraform/, rewriting files in place
	TF_CLI_CONFIG_FILE=/dev/null terraform fmt -recursive terraform

checkov: checkov-venv ## run checkov on terraform/ (offline)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --quiet --compact
