"""Fixtures of the container tests that need a Docker engine: the engine, the
two images built from the project's Dockerfiles, and a clean slate per test."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.helpers.services import missing
from tests.repo.containers.engine import CHECKOUT_TAG, LOGS, Docker, Stack, docker_client
from tests.repo.containers.lib import DOCKERFILE, FRONTEND_DOCKERFILE, parse_dockerfile


@pytest.fixture(scope="session")
def engine() -> Docker:
    """A Docker engine that answers (make containers-engine starts one)."""
    docker = Docker(docker_client())
    info = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    if info.returncode != 0:
        missing(
            f"no Docker engine answers ({info.stderr.strip()}); make containers-engine starts one"
        )
    docker.sweep_killed_runs()
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
def images(engine: Docker, request: pytest.FixtureRequest) -> dict[str, str]:
    """Both Dockerfiles built unchanged, side by side, on base images that are
    there (pulled, or stand-ins); role -> image id."""
    for path in (DOCKERFILE, FRONTEND_DOCKERFILE):
        stages = parse_dockerfile(path)
        for stage in stages:
            if stage.base not in {s.name for s in stages}:
                engine.require_image(stage.base)
    builds = {
        "app": (DOCKERFILE, f"countq:{CHECKOUT_TAG}"),
        "frontend": (FRONTEND_DOCKERFILE, f"countq-frontend:{CHECKOUT_TAG}"),
    }
    with ThreadPoolExecutor(max_workers=len(builds)) as pool:
        futures = {
            role: pool.submit(engine.build, path, tag, LOGS / f"build-{role}.log")
            for role, (path, tag) in builds.items()
        }
        built = {role: future.result() for role, future in futures.items()}
    # The compose stack spends most of its start waiting for health checks:
    # when this session runs its tests, it comes up while the image tests run.
    if any(item.path.name == "test_stack.py" for item in request.session.items):
        request.getfixturevalue("stack_coming_up")
    return built


@pytest.fixture(scope="session")
def stack_coming_up(engine: Docker) -> Iterator[Future[Stack]]:
    """compose.yaml's stack, `up --build -d` in the background; `down -v` at the end."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        docker = Docker(engine.client)
        coming = pool.submit(Stack.up, docker)
        try:
            yield coming
        finally:
            if coming.exception() is None:  # waits for `up` to end
                coming.result().down()
            docker.remove_everything()


@pytest.fixture(scope="session")
def app_image(images: dict[str, str]) -> str:
    return images["app"]


@pytest.fixture(scope="session")
def frontend_image(images: dict[str, str]) -> str:
    return images["frontend"]
