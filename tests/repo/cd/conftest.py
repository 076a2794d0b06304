"""Fixtures of the continuous-delivery tests: the bootstrap root applied and
destroyed on one moto server, once per session."""

from __future__ import annotations

import pytest

from tests.helpers.services import require_tool
from tests.repo.cd import bootstrap
from tests.repo.infra import harness


@pytest.fixture(scope="session")
def bootstrap_run() -> bootstrap.BootstrapRun:
    terraform_bin = require_tool("terraform")
    run = bootstrap.run_bootstrap(terraform_bin, harness.cli_config())
    if run.error:
        pytest.fail(f"the bootstrap run on moto failed: {run.error}")
    return run
