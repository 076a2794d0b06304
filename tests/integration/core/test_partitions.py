"""QUEUE_PARTITIONS on the real Redis and MariaDB: the spread, the bound, fair
reads, reclaim and dead letters per partition, discovery, and changing N
(1 -> 4 -> 2) under load with real producer and consumer processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.config import Settings
from countq.db.engine import create_engine
from countq.messages import uuid7
from countq.queue.consumer import ConsumerQueue
from countq.queue.deadletters import DeadLetters
from countq.queue.partitions import Partition, configured
from countq.queue.producer import ProducerQueue
from countq.worker.loop import Consumer
from countq.worker.metrics import QueueGauges
from tests.helpers.database import db_rows
from tests.helpers.loadgen import Answer, OpenLoop
from tests.helpers.processes import (
    free_port,
    settings_env,
    start_consumer,
    start_countq,
    stop,
    wait_http,
    wait_until,
)
from tests.helpers.services import ROOT


def partitioned(settings: Settings, n: int, **more: object) -> Settings:
    return settings.model_copy(update={"queue_partitions": n, **more})


def fill(r: redis.Redis, partition: Partition, n: int, start: int = 0) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + n):
        pipe.xadd(partition.stream_key, {"id": str(uuid7()), "count": i, "ts": 0})
    pipe.execute()


def lengths(r: redis.Redis, partitions: list[Partition]) -> list[int]:
    return [int(r.xlen(p.stream_key)) for p in partitions]


def test_posts_spread_over_every_partition_and_stats_add_them_up(
    settings: Settings, redis_admin: redis.Redis
) -> None:
    s = partitioned(settings, 4)
    partitions = configured(s)
    with TestClient(create_app(s)) as client:
        for i in range(400):
            assert client.post("/count", json={"count": i}).status_code == 202
        stats = client.get("/stats").json()
    each = lengths(redis_admin, partitions)
    assert sum(each) == 400
    assert all(50 < n < 150 for n in each), each  # one partition per event-loop turn, in turn
    assert redis_admin.smembers(f"{{{s.redis_queue}}}:partitions") == {
        p.stream_key.split("}")[0][1:].encode() for p in partitions[1:]
    }
    assert stats["backlog"] == 400
    assert [p["stream"] for p in stats["partitions"]] == [p.stream_key for p in partitions]
    assert [p["backlog"] for p in stats["partitions"]] == each

    consumer = Consumer(s, name="c")
    consumer.queue.ensure_group()
    while consumer.run_once():
        pass
    assert db_rows(s) == (400, 400, 400)
    assert lengths(redis_admin, partitions) == [0, 0, 0, 0]


def test_a_producer_that_could_not_register_at_start_does_before_its_first_enqueue(
    settings: Settings, redis_admin: redis.Redis
) -> None:
    s = partitioned(settings, 3)

    async def enqueue_without_start() -> None:
        queue = ProducerQueue(s)  # ensure_group never ran: Redis was away at start
        await queue.enqueue(1)
        await queue.close()

    asyncio.run(enqueue_without_start())
    registry = redis_admin.smembers(f"{{{s.redis_queue}}}:partitions")
    assert {tag.decode() for tag in registry} == {p.tag for p in configured(s)[1:]}


def test_max_backlog_is_the_whole_backlog(settings: Settings) -> None:
    """MAX_BACKLOG=8 over 4 partitions: 2 each, and then every POST is refused."""
    s = partitioned(settings, 4, max_backlog=8)
    with TestClient(create_app(s)) as client:
        answers = Counter(client.post("/count", json={"count": i}).status_code for i in range(60))
        assert client.get("/stats").json()["backlog"] == 8
    assert answers == {202: 8, 503: 52}


def test_every_partition_is_served_in_turn(settings: Settings, redis_admin: redis.Redis) -> None:
    """One partition with five times the others' load does not starve them: while
    every partition has entries, each gets one batch in every four reads, and
    none waits more than three reads for its turn."""
    s = partitioned(settings, 4, consumer_batch_size=10)
    queue = ConsumerQueue(s, "fair")
    queue.ensure_group()
    partitions = configured(s)
    fill(redis_admin, partitions[0], 500)
    for p in partitions[1:]:
        fill(redis_admin, p, 100)
    served = []
    for _ in range(40):  # 10 rounds: the small partitions still hold entries
        partition, entries = queue.read_next(block_ms=10)
        assert len(entries) == 10
        served.append(partition)
        queue.ack([eid for eid, _ in entries], partition)
    assert Counter(served) == dict.fromkeys(partitions, 10)
    for i in range(0, 40, 4):
        assert set(served[i : i + 4]) == set(partitions), served[i : i + 4]
    queue.close()


def test_an_idle_consumer_finds_a_message_in_any_partition(
    settings: Settings, redis_admin: redis.Redis
) -> None:
    s = partitioned(settings, 3)
    queue = ConsumerQueue(s, "idle")
    queue.ensure_group()
    last = configured(s)[2]
    fill(redis_admin, last, 1)
    found = [queue.read_next(block_ms=10) for _ in range(3)]
    assert [(p, len(e)) for p, e in found if e] == [(last, 1)]
    queue.close()


def test_reclaim_and_dead_letters_work_per_partition(
    settings: Settings, redis_admin: redis.Redis
) -> None:
    """A consumer dies holding entries of partition 2; another takes them over
    there, and the one that can never be stored is a dead letter of partition
    2, replayed back onto partition 2."""
    s = partitioned(settings, 3, claim_idle_ms=100)
    third = configured(s)[2]
    dead = ConsumerQueue(s, "dead")
    dead.ensure_group()
    fill(redis_admin, third, 3)
    redis_admin.xadd(third.stream_key, {"id": "not-a-uuid", "count": 1, "ts": 0})
    partition, entries = dead.read_next(block_ms=10)
    assert (partition, len(entries)) == (third, 4)  # read, never acked: it "died"
    time.sleep(0.2)
    survivor = Consumer(s, name="survivor")
    batch = survivor.fetch()
    assert (batch.partition, batch.redelivered, len(batch.messages)) == (third, True, 3)
    assert len(batch.rejected) == 1
    survivor.ack(batch.partition, survivor.handle(batch))
    assert db_rows(s) == (3, 3, 3)
    assert redis_admin.xlen(third.dead_key) == 1
    assert redis_admin.xlen(third.stream_key) == 0

    letters = DeadLetters(s)
    assert letters.count() == 1
    (letter,) = letters.newest(10)
    assert letter.dead_key == third.dead_key
    new_id = letters.replay(letter.entry_id)
    assert new_id is not None
    assert redis_admin.xrange(third.stream_key)[0][0].decode() == new_id
    letters.close()

    cli = subprocess.run(
        [sys.executable, "-m", "countq", "dead-letters", "list", "--json"],
        env={**settings_env(s)},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == []  # replayed: no dead letter left anywhere


def test_a_consumer_drains_partitions_it_was_not_configured_with(
    settings: Settings, redis_admin: redis.Redis
) -> None:
    """Producers registered 4 partitions; a consumer started with the default (1)
    finds them in the registry and drains them all."""
    wide = partitioned(settings, 4)
    with TestClient(create_app(wide)) as client:
        for i in range(100):
            assert client.post("/count", json={"count": i}).status_code == 202
    narrow = Consumer(settings, name="narrow")
    narrow.queue.ensure_group()
    assert set(narrow.queue.partitions) == set(configured(wide))
    while narrow.run_once():
        pass
    assert db_rows(settings) == (100, 100, 100)
    assert lengths(redis_admin, configured(wide)) == [0, 0, 0, 0]


def test_the_consumer_gauges_sum_the_partitions_and_list_each(
    settings: Settings, redis_admin: redis.Redis
) -> None:
    s = partitioned(settings, 3)
    queue = ConsumerQueue(s, "gauges")
    queue.ensure_group()
    partitions = configured(s)
    for p, n in zip(partitions, (5, 7, 11), strict=True):
        fill(redis_admin, p, n)
    families = {f.name: f for f in QueueGauges(queue).collect()}
    assert families["countq_backlog"].samples[0].value == 23
    by_stream = {
        sample.labels["stream"]: sample.value
        for sample in families["countq_partition_backlog"].samples
    }
    assert by_stream == {p.stream_key: n for p, n in zip(partitions, (5, 7, 11), strict=True)}
    queue.close()


@pytest.mark.slow
def test_changing_partitions_1_to_4_to_2_under_load_loses_and_doubles_nothing(
    settings: Settings, redis_admin: redis.Redis, tmp_path: Path
) -> None:
    """Real producers and consumers under open-loop load, as a rolling deploy
    changes them: at each change the old consumer stops first (a backlog builds
    under the old producer), then a producer with the new QUEUE_PARTITIONS
    takes the load, the old producer stops, and a consumer with the new value
    starts. When N goes from 4 to 2, partitions 1 and 3 of 4 still hold
    messages that no process is configured with: only discovery drains them."""
    rate, phase_s = 300.0, 4.0
    accepted: set[str] = set()
    old: list[subprocess.Popen[bytes]] = []
    load: OpenLoop | None = None
    four = configured(partitioned(settings, 4))
    left_over: list[int] = []
    try:
        for n in (1, 4, 2):
            s = partitioned(settings, n)
            env = settings_env(s)
            if old:
                old_producer, old_consumer = old
                assert stop(old_consumer) == 0  # hands back what it held, unacked
                time.sleep(1.0)  # the old producer alone: a backlog builds
            port = free_port()
            producer = start_countq("producer", {**env, "HTTP_PORT": str(port)}, tmp_path / "p.log")
            wait_http(f"http://127.0.0.1:{port}/health", proc=producer)
            if load is not None:
                accepted |= _accepted(load.stop())
            load = OpenLoop(port, rate, connections=20).start()
            if old:
                stop(old_producer)  # uvicorn's exit status on SIGTERM is its own
            if n == 2:
                left_over = lengths(redis_admin, [four[1], four[3]])
            old = [producer, start_consumer(env, tmp_path / "c.log")]
            time.sleep(phase_s)
        assert load is not None
        accepted |= _accepted(load.stop())
        load = None
        every = {p for n in (1, 4, 2) for p in configured(partitioned(settings, n))}
        assert len(every) == 4  # 1 of 2 is 2 of 4

        def drained() -> bool:
            return all(
                redis_admin.xlen(p.stream_key) == 0
                and redis_admin.xpending(p.stream_key, s.group)["pending"] == 0
                for p in every
            )

        wait_until(drained, timeout=60, interval=0.2)
    finally:
        if load is not None:
            load.stop()
        for proc in old:
            stop(proc)
    assert all(left_over), left_over  # what only discovery could drain
    assert len(accepted) > rate * 3 * phase_s * 0.5, len(accepted)
    rows, distinct, summary = db_rows(settings)
    assert rows == distinct == summary == len(accepted)
    assert _stored_ids(settings) == accepted


def _accepted(answers: list[Answer]) -> set[str]:
    """The ids of the 202s. A producer starved of CPU by the machine's other work
    may answer a few 503s (Redis not answering within REDIS_TIMEOUT_S): those
    were never accepted, so they do not count; nothing else may be refused."""
    refused = [a for a in answers if a.status != 202]
    assert all(a.status == 503 for a in refused), refused[:5]
    assert len(refused) < 0.05 * len(answers), refused[:5]
    return {json.loads(a.body)["id"] for a in answers if a.status == 202}


def _stored_ids(settings: Settings) -> set[str]:
    engine = create_engine(settings)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT message_id FROM messages")).scalars().all()
    engine.dispose()
    return {str(uuid.UUID(bytes=bytes(r))) for r in rows}
