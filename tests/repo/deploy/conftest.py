"""Fixtures of the deploy replay: one replay per environment in REPLAYED,
started together (and with the other environments' Terraform runs when
tests/repo/infra's are collected too, so that all of them overlap)."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from tests.repo.deploy import replay, upgrade
from tests.repo.infra import harness


@pytest.fixture(scope="session")
def replays(request: pytest.FixtureRequest) -> dict[str, Future[replay.Replay]]:
    tools = replay.tools()
    if any(item.path.name == "test_environments.py" for item in request.session.items):
        for env in harness.ENVIRONMENTS:
            replay.start_environment(env, tools)
    if any(item.path.name == "test_upgrade_replay.py" for item in request.session.items):
        upgrade.upgrade(tools)
    return {env: replay.replay(env, tools) for env in replay.REPLAYED}


@pytest.fixture(scope="session")
def upgraded() -> upgrade.Upgrade:
    """The upgrade replay (already started beside the others when `replays` ran first)."""
    done: upgrade.Upgrade = upgrade.upgrade(replay.tools()).result()
    return done


@pytest.fixture(params=replay.REPLAYED)
def done(
    request: pytest.FixtureRequest, replays: dict[str, Future[replay.Replay]]
) -> replay.Replay:
    return replays[request.param].result()
