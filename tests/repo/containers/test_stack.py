"""compose.yaml for real: the whole stack up, used through its page, scaled,
a consumer killed, and taken down again.

The stack runs as one uniquely named project on free published ports, with
the images built from the Dockerfiles unchanged and the stand-in base images.
It starts while test_images.py runs (conftest.py); the tests here run in file
order against it, and `down -v` ends it, passed or failed.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from countq.config import Settings
from tests.helpers.processes import wait_until
from tests.repo.containers.api import post_counts, stats, wait_drained
from tests.repo.containers.engine import SERVICE_LABEL, Stack
from tests.repo.containers.lib import environment, services

# The whole compose stack on a real Docker engine: make test-fast leaves it out.
pytestmark = pytest.mark.slow

LONG_RUNNING = ("mysql", "redis", "producer", "consumer", "frontend")


@pytest.fixture(scope="module")
def stack(images: dict[str, str], stack_coming_up: Future[Stack]) -> Stack:
    return stack_coming_up.result()


def events(stack: Stack) -> list[tuple[float, str, str, dict[str, str]]]:
    """(time, service, action, attributes) of the project's containers, in order."""
    result = []
    for line in stack.events.read_text().splitlines():
        event = json.loads(line)
        attributes = event["Actor"]["Attributes"]
        result.append(
            (event["timeNano"] / 1e9, attributes[SERVICE_LABEL], event["Action"], attributes)
        )
    return sorted(result, key=lambda e: e[0])


def test_up_migrates_once_then_starts_each_service_once_its_dependencies_are_healthy(
    stack: Stack,
) -> None:
    for service in LONG_RUNNING:
        stack.wait_healthy(service)
    (migrate,) = stack.compose.containers("migrate")
    state = stack.compose.docker.inspect(migrate)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)

    seen = events(stack)

    def first(service: str, action: str) -> float:
        times = [t for t, s, a, _ in seen if s == service and a == action]
        assert times, f"no {action!r} event for {service}: {[(s, a) for _, s, a, _ in seen]}"
        return min(times)

    assert [a for _, s, a, _ in seen if s == "migrate" and a == "start"] == ["start"], "runs once"
    (exit_code,) = [attrs["exitCode"] for _, s, a, attrs in seen if s == "migrate" and a == "die"]
    assert exit_code == "0"
    healthy = "health_status: healthy"
    assert first("mysql", healthy) < first("migrate", "start")
    for service in ("producer", "consumer"):
        assert first("migrate", "die") < first(service, "start"), service
        assert first("redis", healthy) < first(service, "start"), service
    assert first("producer", healthy) < first("frontend", "start")


def test_post_through_the_page_origin_then_get_shows_the_row(stack: Stack) -> None:
    page = httpx.get(f"{stack.url}/")
    assert page.status_code == 200 and '<div id="root">' in page.text
    value = secrets.randbelow(2**62)
    posted = httpx.post(f"{stack.url}/count", json={"count": value})
    assert posted.status_code == 202, posted.text
    wait_until(lambda: httpx.get(f"{stack.url}/count").json()["last_value"] == value, timeout=30)
    body = httpx.get(f"{stack.url}/count").json()
    assert body["last_id"] == posted.json()["id"] and body["rows"] >= 1


def test_services_are_configured_as_compose_asks(stack: Stack) -> None:
    docker = stack.compose.docker
    (mysql,) = stack.compose.containers("mysql")
    (redis,) = stack.compose.containers("redis")
    # No root login without the generated password, and no way in with a wrong one.
    as_root = docker.exec(mysql, "mysql", "-h", "127.0.0.1", "-u", "root", "-e", "SELECT 1")
    assert as_root.returncode != 0, as_root.stdout
    wrong = docker.exec(
        mysql, "sh", "-c", "MYSQL_PWD=wrong mysql -h 127.0.0.1 -u countq -e 'SELECT 1'"
    )
    assert wrong.returncode != 0, wrong.stdout
    appendonly = docker.exec(redis, "redis-cli", "CONFIG", "GET", "appendonly")
    assert appendonly.stdout.split() == ["appendonly", "yes"], "a queued message survives a restart"
    for service, user in (("mysql", "mysql"), ("redis", "redis"), ("frontend", "101:101")):
        (container,) = stack.compose.containers(service)
        assert docker.inspect(container)["Config"]["User"] == user, service


def test_three_consumers_share_the_group_and_store_5000_posts_exactly_once(stack: Stack) -> None:
    before = stats(stack.url)["stored_rows"]
    stack.compose("up", "--detach", "--no-build", "--scale", "consumer=3")
    with ThreadPoolExecutor(max_workers=1) as pool:
        posting = pool.submit(post_counts, stack.url, range(5_000))
        stack.wait_healthy("consumer", count=3)
        posting.result()
    wait_drained(stack.url, before + 5_000, timeout=120)
    # A consumer enters the group's list with its first read of entries.
    assert stats(stack.url)["consumers"] == 3


def group_consumers(stack: Stack) -> dict[str, int]:
    """Consumer name -> entries it holds unacked, as Redis's XINFO CONSUMERS says."""
    queue = Settings(redis_queue=environment(services()["consumer"])["REDIS_QUEUE"])
    (redis,) = stack.compose.containers("redis")
    xinfo = ("redis-cli", "--raw", "XINFO", "CONSUMERS", queue.stream_key, queue.group)
    fields = stack.compose.docker.exec(redis, *xinfo).stdout.split()
    consumers: list[dict[str, str]] = []
    for key, value in zip(fields[::2], fields[1::2], strict=True):
        if key == "name":  # each consumer's fields start with its name
            consumers.append({})
        consumers[-1][key] = value
    return {c["name"]: int(c["pending"]) for c in consumers}


def test_a_consumer_killed_mid_drain_loses_nothing(stack: Stack) -> None:
    """A backlog, the consumers back on it, and one SIGKILLed while it holds
    entries it has read but not stored. The database is paused for the moment
    of the kill, so the consumers cannot finish a batch before it lands: the
    drain would otherwise be over in well under a second."""
    docker, n = stack.compose.docker, 5_000
    consumers = stack.compose.containers("consumer")
    (mysql,) = stack.compose.containers("mysql")
    stack.compose("stop", "consumer")
    before = stats(stack.url)["stored_rows"]
    post_counts(stack.url, range(n))
    docker("pause", mysql)
    try:
        docker("start", *consumers)
        # Asked of Redis: /stats would wait for the paused database.
        wait_until(lambda: any(group_consumers(stack).values()), timeout=60, interval=0.1)
        holders = [name for name, pending in group_consumers(stack).items() if pending]
        victim = next(c for c in consumers if any(h.startswith(c[:12]) for h in holders))
        docker("kill", "--signal", "SIGKILL", victim)
        held = {h: p for h, p in group_consumers(stack).items() if h.startswith(victim[:12])}
        assert sum(held.values()) > 0, held
    finally:
        docker("unpause", mysql)
    assert stats(stack.url)["stored_rows"] < before + n, "the kill must land mid-drain"
    # What it held is reclaimed by the others once it has been idle for
    # CLAIM_IDLE_MS (30 s by default); consumer names are <hostname>-<pid>.
    wait_drained(stack.url, before + n, timeout=150)


def test_down_v_leaves_nothing_behind(stack: Stack) -> None:
    stack.compose("down", "--volumes", "--timeout", "30")
    assert stack.compose.leftovers() == {"containers": [], "networks": [], "volumes": []}
