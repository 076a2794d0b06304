"""Fixtures of the infrastructure tests: Terraform from the offline mirror,
and the four environments applied against moto, in parallel (each on its
own moto server) because most of their time is spent in AWS waiters."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.services import require_tool
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
def environment_runs(
    terraform_bin: str, cli_config: Path
) -> Iterator[dict[str, Future[harness.EnvironmentRun]]]:
    moto_server = require_tool("moto_server")
    zip_path = harness.importer_zip(harness.BUILD / "importer.zip")
    with ThreadPoolExecutor(max_workers=len(harness.ENVIRONMENTS)) as pool:
        yield {
            env: pool.submit(
                harness.run_environment, env, terraform_bin, cli_config, moto_server, zip_path
            )
            for env in harness.ENVIRONMENTS
        }


@pytest.fixture(params=harness.ENVIRONMENTS)
def env_run(
    request: pytest.FixtureRequest, environment_runs: dict[str, Future[harness.EnvironmentRun]]
) -> harness.EnvironmentRun:
    run = environment_runs[request.param].result()
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
