"""Fixtures of the infrastructure tests: Terraform from the offline mirror,
and the four environments applied against moto, in parallel (each on its
own moto server) because most of their time is spent in AWS waiters: test
and prod through their deploy replay (tests/repo/deploy), dev and stage
through plain plan, apply, re-plan and destroy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.services import require_tool
from tests.repo.deploy import replay
from tests.repo.infra import harness


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    return require_tool("terraform")


@pytest.fixture(scope="session")
def cli_config(terraform_bin: str) -> Path:
    return harness.cli_config()


@pytest.fixture(scope="session")
def tf(terraform_bin: str, cli_config: Path) -> harness.Terraform:
    harness.BUILD.mkdir(parents=True, exist_ok=True)
    return harness.Terraform(
        terraform_bin, harness.terraform_env(cli_config), harness.BUILD / "static.log"
    )


@pytest.fixture(scope="session")
def infra_tools(terraform_bin: str, cli_config: Path) -> replay.Tools:
    return replay.tools()


@pytest.fixture(scope="session")
def environment_runs(infra_tools: replay.Tools) -> dict[str, harness.EnvironmentRun]:
    """All four environments start at once; test and prod come from their deploy replay."""
    for env in harness.ENVIRONMENTS:
        replay.start_environment(env, infra_tools)
    return {env: replay.environment_run(env, infra_tools) for env in harness.ENVIRONMENTS}


@pytest.fixture(params=harness.ENVIRONMENTS)
def env_run(
    request: pytest.FixtureRequest, environment_runs: dict[str, harness.EnvironmentRun]
) -> harness.EnvironmentRun:
    run = environment_runs[request.param]
    if not run.plan:
        pytest.fail(f"{run.env}: no plan was made: {run.error}")
    return run


@pytest.fixture(scope="session")
def checkov_bin() -> str:
    path = harness.ROOT / ".venv-checkov" / "bin" / "checkov"
    if path.exists():
        return str(path)
    found = shutil.which("checkov")
    return found if found else require_tool("checkov")
