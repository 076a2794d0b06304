"""Nothing lost: consumer crashes, database and Redis outages mid-stream."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.config import Settings
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows
from tests.helpers.processes import (
    free_port,
    settings_env,
    start_consumer,
    start_countq,
    stop,
    wait_http,
    wait_until,
)
from tests.helpers.services import MYSQL, REDIS_URL
from tests.helpers.streams import fill_stream
from tests.helpers.tcp_proxy import TcpProxy
from tests.helpers.timing import loaded

# Crashes and outages over 60,000-message drains, ~65 s under load: make test-fast leaves it out.
pytestmark = pytest.mark.slow


def test_sigkill_while_draining_loses_and_duplicates_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    n, kills = 60_000, 4
    fill_stream(settings, n)
    env = {**settings_env(settings), "CONSUMER_BATCH_SIZE": "500"}
    log = tmp_path / "consumer.log"
    for k in range(1, kills + 1):
        proc = start_consumer(env, log)
        # Kill mid-drain, at a different point each time.
        wait_until(lambda k=k: db_rows(settings)[2] >= k * n // (kills + 2), timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    stored_before_restart = db_rows(settings)[0]
    assert stored_before_restart < n, "the kills must land mid-drain"
    proc = start_consumer(env, log)
    try:
        wait_until(lambda: db_rows(settings)[2] == n, timeout=120, interval=0.2)
        r = redis.Redis.from_url(REDIS_URL)
        wait_until(lambda: r.xlen(settings.stream_key) == 0, timeout=30)
    finally:
        assert stop(proc) == 0
    assert db_rows(settings) == (n, n, n)
    assert r.xlen(settings.dead_key) == 0


def test_sigterm_while_draining_hands_back_what_it_read(settings: Settings, tmp_path: Path) -> None:
    """A stopped consumer exits 0 in time; the batch it read ahead stays pending
    and the next consumer reclaims it."""
    n = 60_000
    fill_stream(settings, n)
    env = {**settings_env(settings), "CONSUMER_BATCH_SIZE": "500", "CLAIM_IDLE_MS": "500"}
    log = tmp_path / "consumer.log"
    proc = start_consumer(env, log)
    wait_until(lambda: db_rows(settings)[2] >= n // 3, timeout=60)
    started = time.monotonic()
    assert stop(proc) == 0
    assert time.monotonic() - started < 10
    r = redis.Redis.from_url(REDIS_URL)
    stored = db_rows(settings)[2]
    assert stored < n, "the stop must land mid-drain"
    assert r.xlen(settings.stream_key) == n - stored  # nothing acked that is not stored
    proc = start_consumer(env, log)
    try:
        wait_until(lambda: r.xlen(settings.stream_key) == 0, timeout=120, interval=0.2)
    finally:
        assert stop(proc) == 0
    assert db_rows(settings) == (n, n, n)
    assert r.xpending(settings.stream_key, settings.group)["pending"] == 0


@pytest.fixture
def consumer_thread() -> Iterator[list[Consumer]]:
    running: list[Consumer] = []
    yield running
    for consumer in running:
        consumer.stopping.set()


def run_in_thread(consumer: Consumer, running: list[Consumer]) -> threading.Thread:
    running.append(consumer)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def test_database_unreachable_mid_stream_loses_nothing(
    settings: Settings, consumer_thread: list[Consumer]
) -> None:
    proxy = TcpProxy(MYSQL["host"], MYSQL["port"]).start()
    url = settings.effective_database_url().replace(f":{MYSQL['port']}/", f":{proxy.port}/")
    via_proxy = settings.model_copy(update={"database_url": url})
    consumer = Consumer(via_proxy, name="db-outage")
    thread = run_in_thread(consumer, consumer_thread)
    with TestClient(create_app(settings)) as client:
        for i in range(100):
            assert client.post("/count", json={"count": i}).status_code == 202
        wait_until(lambda: db_rows(settings)[2] == 100)
        proxy.cut()  # the database "restarts": connections drop, new ones refused
        for i in range(100, 300):
            assert client.post("/count", json={"count": i}).status_code == 202
        time.sleep(1.5)  # the consumer retries with backoff meanwhile
        assert db_rows(settings)[2] == 100
        proxy.restore()
        wait_until(lambda: db_rows(settings)[2] == 300, timeout=30)
        assert client.get("/count").json()["last_value"] == 299
    consumer.stopping.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert db_rows(settings) == (300, 300, 300)


def test_redis_outage_refuses_posts_then_resumes(
    settings: Settings, consumer_thread: list[Consumer]
) -> None:
    redis_server = urlsplit(REDIS_URL)
    proxy = TcpProxy(redis_server.hostname or "127.0.0.1", redis_server.port or 6379).start()
    via_proxy = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{proxy.port}/0"})
    consumer = Consumer(via_proxy, name="redis-outage")
    thread = run_in_thread(consumer, consumer_thread)
    with TestClient(create_app(via_proxy)) as client:
        accepted = [client.post("/count", json={"count": i}).status_code for i in range(50)]
        assert accepted == [202] * 50
        proxy.cut()
        started = time.monotonic()
        refused = client.post("/count", json={"count": 999})
        assert refused.status_code == 503
        assert time.monotonic() - started < loaded(via_proxy.redis_timeout_s)
        assert client.get("/ready").status_code == 503
        time.sleep(1)
        proxy.restore()
        wait_until(lambda: client.post("/count", json={"count": 50}).status_code == 202)
        wait_until(lambda: db_rows(settings)[2] == 51, timeout=30)
    consumer.stopping.set()
    thread.join(timeout=10)
    assert db_rows(settings) == (51, 51, 51)


def test_consumer_health_reports_ok(settings: Settings, tmp_path: Path) -> None:
    """`countq check` in the consumer's container: its heartbeat under DATA_DIR decides
    (nothing answers on HTTP_PORT here), and its metrics port serves the queue gauges."""
    port = free_port()
    env = {**settings_env(settings), "CONSUMER_PORT": str(port), "HTTP_PORT": str(free_port())}
    check = [sys.executable, "-m", "countq", "check"]
    proc = start_countq("consumer", env, tmp_path / "c.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", proc=proc)
        assert subprocess.run(check, env=env, check=False).returncode == 0
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "countq_backlog" in metrics
    finally:
        assert stop(proc) == 0
    assert subprocess.run(check, env=env, check=False, capture_output=True).returncode == 1


def test_consumer_survives_its_stream_being_deleted(
    settings: Settings, consumer_thread: list[Consumer]
) -> None:
    consumer = Consumer(settings, name="stream-deleted")
    thread = run_in_thread(consumer, consumer_thread)
    r = redis.Redis.from_url(REDIS_URL)
    with TestClient(create_app(settings)) as client:
        assert client.post("/count", json={"count": 1}).status_code == 202
        wait_until(lambda: db_rows(settings)[2] == 1)
        r.delete(settings.stream_key)  # a blocked XREADGROUP gets UNBLOCKED / NOGROUP
        time.sleep(0.5)
        wait_until(lambda: client.post("/count", json={"count": 2}).status_code == 202)
        wait_until(lambda: db_rows(settings)[2] >= 2, timeout=20)
    assert thread.is_alive()
    consumer.stopping.set()
    thread.join(timeout=10)
