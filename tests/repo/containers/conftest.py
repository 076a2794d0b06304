"""Fixtures of the container tests that need a Docker engine: the engine, the
two images built from the project's Dockerfiles, and a clean slate per test."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers.services import missing
from tests.repo.containers.engine import CHECKOUT_TAG, LOGS, Docker, docker_client
from tests.repo.containers.lib import DOCKERFILE, FRONTEND_DOCKERFILE, parse_dockerfile


@pytest.fixture(scope="session")
def engine() -> Docker:
    """A Docker engine that answers; the stand-in base images present."""
    docker = Docker(docker_client())
    info = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    if info.returncode != 0:
        missing(
            f"no Docker engine answers ({info.stderr.strip()}); make containers-engine starts one"
        )
    return docker


@pytest.fixture
def docker(engine: Docker) -> Iterator[Docker]:
    """The engine, for one test: what it starts is removed when it ends."""
    docker = Docker(engine.client)
    try:
        yield docker
    finally:
        docker.remove_everything()


@pytest.fixture(scope="session")
def images(engine: Docker) -> dict[str, str]:
    """Both Dockerfiles built unchanged, side by side; role -> image id."""
    for path in (DOCKERFILE, FRONTEND_DOCKERFILE):
        for stage in parse_dockerfile(path):
            engine.standin_for(stage.base)  # a missing base image skips, or fails in CI
    builds = {
        "app": (DOCKERFILE, f"countq:{CHECKOUT_TAG}"),
        "frontend": (FRONTEND_DOCKERFILE, f"countq-frontend:{CHECKOUT_TAG}"),
    }
    with ThreadPoolExecutor(max_workers=len(builds)) as pool:
        futures = {
            role: pool.submit(engine.build, path, tag, LOGS / f"build-{role}.log")
            for role, (path, tag) in builds.items()
        }
        return {role: future.result() for role, future in futures.items()}


@pytest.fixture(scope="session")
def app_image(images: dict[str, str]) -> str:
    return images["app"]


@pytest.fixture(scope="session")
def frontend_image(images: dict[str, str]) -> str:
    return images["frontend"]
