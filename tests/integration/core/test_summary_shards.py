"""SUMMARY_SHARDS: the summary in several rows, each consumer adding to one (issue 25).

GET /count sums the rows and takes "last" as the newest across them; two
consumers on different rows never wait on one another's lock; migration 0004
keeps today's row as shard 1, so a consumer of before 0004 loses nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.db.migrate import MIGRATIONS
from countq.messages import Message, uuid7
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows, migrate
from tests.helpers.services import REDIS_URL
from tests.helpers.streams import drained, fill_stream


def msg(count: int, enqueued_ms: int, message_id: bytes | None = None) -> Message:
    return Message(f"{enqueued_ms}-0", message_id or uuid7().bytes, count, enqueued_ms)


def store(engine: Engine, shard: int, *batch: Message) -> None:
    with engine.begin() as conn:
        repo.store_batch(conn, batch, shard)


def summary_rows(engine: Engine) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, row_count FROM message_stats ORDER BY id"))
        return [(int(i), int(n)) for i, n in rows]


def test_get_count_is_the_sum_of_the_shards(store_engine: Engine) -> None:
    store(store_engine, 1, msg(1, 1000), msg(2, 1001))
    store(store_engine, 5, msg(3, 1002))
    store(store_engine, 64, msg(4, 1003), msg(5, 1004), msg(6, 1005))
    store(store_engine, 5, msg(7, 1006))
    # Rows are made when first written to, not before.
    assert summary_rows(store_engine) == [(1, 2), (5, 2), (64, 3)]
    found = repo.summary(store_engine)
    assert (found.rows, found.stored_total, found.last_value) == (7, 7, 7)
    assert found.updated_ms is not None


def test_last_is_the_newest_across_shards_by_enqueue_time_then_id(store_engine: Engine) -> None:
    low, high = b"\x01" * 16, b"\x02" * 16
    store(store_engine, 2, msg(20, 2000, low))
    store(store_engine, 3, msg(10, 1000, high))  # stored later on another shard, but older
    assert repo.summary(store_engine).last_value == 20
    higher = b"\x03" * 16
    store(store_engine, 3, msg(21, 2000, higher))  # the same ms on another shard, a larger id
    assert (repo.summary(store_engine).last_value, repo.summary(store_engine).last_id) == (
        21,
        higher,
    )
    store(store_engine, 1, msg(22, 2000, b"\x01" * 15 + b"\x09"))  # the same ms, a smaller id
    assert repo.summary(store_engine).last_value == 21
    assert repo.summary(store_engine).rows == 4


def test_an_empty_summary_reads_as_zero(store_engine: Engine) -> None:
    found = repo.summary(store_engine)
    assert (found.rows, found.stored_total, found.last_value, found.last_id) == (0, 0, None, None)


def test_two_transactions_on_different_shards_do_not_wait_on_each_other(
    mysql_database: str,
) -> None:
    """The point of the shards: while one consumer's transaction holds its row,
    another's on a different row commits at once; on the same row it waits."""
    migrate(mysql_database)
    engine = create_engine(Settings(database_url=mysql_database), pool_size=2)
    try:
        store(engine, 2, msg(0, 1))  # both rows exist: the steady state
        store(engine, 3, msg(0, 1))
        with engine.begin() as holder:
            repo.store_batch(holder, [msg(1, 2)], 2)  # row 2 locked until the end of the block
            with engine.connect() as other:
                other.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
                other.commit()
                with other.begin():
                    repo.store_batch(other, [msg(2, 3)], 3)
                with pytest.raises(sa.exc.OperationalError, match="Lock wait timeout"):  # noqa: SIM117
                    with other.begin():
                        repo.store_batch(other, [msg(3, 4)], 2)
        assert summary_rows(engine) == [(1, 0), (2, 2), (3, 2)]
    finally:
        engine.dispose()


def test_two_consumers_on_different_shards_store_everything_once(settings: Settings) -> None:
    s = settings.model_copy(update={"summary_shards": 8, "consumer_batch_size": 100})
    # Two names that hash to different rows: the test does not rely on luck.
    names = iter(f"consumer-{i}" for i in range(100))
    first = Consumer(s, name=next(names))
    second = next(c for c in (Consumer(s, name=n) for n in names) if c.shard != first.shard)
    n = 5_000
    fill_stream(s, n)
    r = redis.Redis.from_url(REDIS_URL)
    workers = [threading.Thread(target=_drain, args=(c, r, s)) for c in (first, second)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    r.close()
    assert db_rows(s) == (n, n, n)
    engine = create_engine(s)
    try:
        rows = dict(summary_rows(engine))
        last = repo.summary(engine).last_value
    finally:
        engine.dispose()
    assert set(rows) == {1, first.shard, second.shard}  # row 1: made by the first migration
    assert rows[first.shard] > 0 and rows[second.shard] > 0, "both consumers stored some"
    assert last == n - 1  # every ts is 0: the last by id, the last queued


def _drain(consumer: Consumer, r: redis.Redis, settings: Settings) -> None:
    while consumer.run_once() or not drained(r, settings):
        pass


def test_a_shard_is_picked_by_the_consumers_name() -> None:
    assert repo.summary_shard("host-1-abcd", 64) == repo.summary_shard("host-1-abcd", 64)
    assert {repo.summary_shard(f"c{i}", 1) for i in range(50)} == {1}
    picked = {repo.summary_shard(f"host-{i}-{i:08x}", 16) for i in range(500)}
    assert picked == set(range(1, 17))


def _alembic(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@pytest.mark.parametrize("backend", ["sqlite", "mysql"])
def test_0004_keeps_the_count_and_last_and_an_old_consumer_loses_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        request.getfixturevalue("mysql_database")
        if backend == "mysql"
        else f"sqlite:///{tmp_path / 'countq.db'}"
    )
    engine = create_engine(Settings(database_url=url))
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0003")
            # Row 1's statements are 0003's consumer's, byte for byte.
            repo.store_batch(conn, [msg(1, 1000), msg(2, 2000)], shard=1)
        before = repo.summary(engine)
        assert (before.rows, before.stored_total, before.last_value) == (2, 2, 2)
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "head")
        assert repo.summary(engine) == before
        # During the rollout: new consumers on their shards, an old one on row 1.
        store(engine, 7, msg(3, 3000))
        store(engine, 1, msg(4, 4000))
        store(engine, 9, msg(5, 5000))
        store(engine, 1, msg(0, 500))  # an old one reclaimed late: "last" stays
        after = repo.summary(engine)
        assert (after.rows, after.stored_total, after.last_value) == (6, 6, 5)

        # Back to 0003: the shards fold into row 1, the only one it reads.
        with engine.begin() as conn:
            command.downgrade(_alembic(conn), "0003")
        folded = summary_rows(engine)
        assert folded == [(1, 6)]
        assert repo.summary(engine).last_value == 5
    finally:
        engine.dispose()
