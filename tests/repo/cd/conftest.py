"""Fixtures of the continuous-delivery tests: the bootstrap root applied and
destroyed on one moto server, once per session; and the deploy replays
(tests/repo/deploy), which run as the bootstrap's roles with IAM enforced."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from tests.helpers.services import require_tool
from tests.repo.cd import bootstrap
from tests.repo.deploy import replay
from tests.repo.infra import harness


@pytest.fixture(scope="session")
def bootstrap_run() -> bootstrap.BootstrapRun:
    terraform_bin = require_tool("terraform")
    run = bootstrap.run_bootstrap(terraform_bin, harness.cli_config())
    if run.error:
        pytest.fail(f"the bootstrap run on moto failed: {run.error}")
    return run


@pytest.fixture(scope="session")
def replays(request: pytest.FixtureRequest) -> dict[str, Future[replay.Replay]]:
    """Every replay started at once (they run side by side), as tests/repo/deploy
    starts them; shared with it when both are collected."""
    tools = replay.tools()
    if any(item.path.name == "test_environments.py" for item in request.session.items):
        for env in harness.ENVIRONMENTS:
            replay.start_environment(env, tools)
    return {env: replay.replay(env, tools) for env in replay.REPLAYED}
