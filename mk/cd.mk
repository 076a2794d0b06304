# Continuous delivery (issue 15): terraform/bootstrap and the deploy and plan
# workflows. tests/repo/cd runs the workflows' steps, which read plans with jq.

SETUP += cd-tools
FAST_SETUP += cd-tools
HELP_Infrastructure += test-cd
HELP_Setup += cd-tools

.PHONY: cd-tools test-cd

cd-tools: ## install jq when missing (the plan workflow's steps use it; tests/repo/cd runs them)
	@command -v jq >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q jq; }

test-cd: venv ## the bootstrap on moto, its permissions, the deploy and plan workflows
	$(PY) -m pytest tests/repo/cd $(ARGS)
