"""RETENTION_DAYS: day partitions on the real MariaDB, batched deletes on SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.config import Settings
from countq.db import repo, retention
from countq.db.engine import create_engine
from countq.db.migrate import upgrade
from countq.db.retention import DAY_MS, day_start, partition_name
from countq.messages import Message, uuid7
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows, migrate, root_connection
from tests.helpers.processes import settings_env, wait_until
from tests.helpers.services import REDIS_URL, ROOT


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def now(settings: Settings) -> int:
    """The time, read after `settings` migrated the database: the migration
    makes the day partitions from its own clock, so a time read at collection
    (or before the migration) is yesterday's in a run that crosses 00:00 UTC."""
    return now_ms()


def msg(enqueued_ms: int, count: int = 1, message_id: bytes | None = None) -> Message:
    return Message("0-1", message_id or uuid7().bytes, count, enqueued_ms)


def store(settings: Settings, *batch: Message, shard: int = 1) -> int:
    engine = create_engine(settings)
    try:
        with engine.begin() as conn:
            return repo.store_batch(conn, batch, shard)
    finally:
        engine.dispose()


def partitions(settings: Settings) -> dict[str, int]:
    """Partition name -> rows it holds (exact counts)."""
    database = sa.make_url(settings.effective_database_url()).database
    with root_connection(database) as conn, conn.cursor() as cur:
        names = [n for n, _ in retention.partitions(cur)]
        counts = {}
        for name in names:
            cur.execute(f"SELECT COUNT(*) FROM messages PARTITION ({name})")  # noqa: S608
            counts[name] = int(cur.fetchone()[0])
    return counts


def migration_day(settings: Settings) -> int:
    """The first day the migration partitioned (pbefore holds what came before it)."""
    database = sa.make_url(settings.effective_database_url()).database
    with root_connection(database) as conn, conn.cursor() as cur:
        ((name, bound), *_) = retention.partitions(cur)
    assert name == "pbefore" and bound is not None
    return bound


def maintain(
    settings: Settings, days: int | None, at_ms: int | None = None
) -> retention.Maintenance:
    engine = create_engine(settings)
    try:
        return retention.maintain(engine, days, now_ms() if at_ms is None else at_ms)
    finally:
        engine.dispose()


def test_the_migration_partitions_by_day_with_days_ahead(mysql_database: str) -> None:
    before = day_start(now_ms())
    migrate(mysql_database)
    after = day_start(now_ms())
    settings = Settings(database_url=mysql_database)
    names = list(partitions(settings))
    # The migration read its clock between these two: either day when they differ.
    expected = [
        [
            "pbefore",
            *(partition_name(d + i * DAY_MS) for i in range(retention.AHEAD_DAYS + 1)),
            "pfuture",
        ]
        for d in {before, after}
    ]
    assert names in expected
    if before == after == day_start(now_ms()):
        assert maintain(settings, None).created == []  # already as far ahead as wanted


def test_a_redelivery_across_a_partition_boundary_is_stored_once(
    settings: Settings, now: int
) -> None:
    """The last millisecond of today goes to today's partition, and a redelivery
    after midnight carries the same enqueue time: same partition, refused."""
    today_ms = day_start(now)
    last_ms = today_ms + DAY_MS - 1
    late, early = msg(last_ms, 1), msg(last_ms + 1, 2)
    assert store(settings, late, early) == 2
    counts = partitions(settings)
    assert counts[partition_name(today_ms)] == 1
    assert counts[partition_name(today_ms + DAY_MS)] == 1
    # The redelivery, stored "tomorrow": stored_ms differs, enqueued_ms does not.
    assert store(settings, late, early, msg(last_ms + 5, 3)) == 1
    assert db_rows(settings) == (3, 3, 3)


def test_a_drop_keeps_the_summary_equal_to_count(settings: Settings, now: int) -> None:
    today_ms = day_start(now)
    old, today, later = msg(0), msg(now), msg(today_ms + 9 * DAY_MS)  # later: in pfuture
    assert store(settings, old, today, later) == 3
    in_ten_days = now + 10 * DAY_MS
    first_day = migration_day(settings)
    done = maintain(settings, 2, in_ten_days)
    # Cutoff: ten days on, minus two days kept: every day up to today+7 ends by it.
    days = range(first_day, today_ms + 8 * DAY_MS, DAY_MS)
    assert done.dropped == {
        "pbefore": 1,
        **{partition_name(day): int(day == today_ms) for day in days},
    }
    assert done.deleted == 2
    assert partition_name(today_ms + 9 * DAY_MS) in done.created  # split off pfuture, row kept
    assert db_rows(settings) == (1, 1, 1)
    with TestClient(create_app(settings)) as client:
        body = client.get("/count").json()
    assert (body["rows"], body["stored_total"]) == (1, 3)
    assert partitions(settings)[partition_name(today_ms + 9 * DAY_MS)] == 1
    assert maintain(settings, 2, in_ten_days) == retention.Maintenance(ran=True)


def test_drops_while_the_consumer_stores_keep_the_summary_right(
    settings: Settings, now: int
) -> None:
    """A running consumer stores into the very partitions being dropped (late
    redeliveries, replays): its inserts wait on the drop's lock, or lose a
    deadlock and are retried like any database error, never lost. The summary
    equals COUNT(*) afterwards."""
    today_ms = day_start(now)
    for day in range(6):
        store(settings, *(msg(today_ms + day * DAY_MS + i) for i in range(200)))
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    consumer = Consumer(settings, name="retention")
    consumer.queue.ensure_group()
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        for day in range(1, 6):
            for n in range(50):
                ts = today_ms + (n % 6) * DAY_MS + 500 + n
                r.xadd(settings.stream_key, {"id": str(uuid7()), "count": "1", "ts": str(ts)})
            assert maintain(settings, 1, now + day * DAY_MS).ran
        wait_until(lambda: r.xlen(settings.stream_key) == 0, timeout=30)
    finally:
        consumer.stopping.set()
        thread.join(timeout=30)
    rows, distinct, summary = db_rows(settings)
    assert rows == distinct == summary
    assert partition_name(today_ms) not in partitions(settings)
    assert r.xlen(settings.dead_key) == 0


def test_a_second_run_waits_for_nobody(settings: Settings) -> None:
    database = sa.make_url(settings.effective_database_url()).database
    holder = pymysql.connect(host="127.0.0.1", user="root", password="", database=database)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (retention.lock_name(str(database)),))
        started = time.monotonic()
        assert maintain(settings, 1) == retention.Maintenance(ran=False)
        assert time.monotonic() - started < 5
    finally:
        holder.close()
    assert maintain(settings, 1).ran


def test_a_drop_interrupted_after_the_drop_is_mended(settings: Settings, now: int) -> None:
    # On three summary shards: the mend takes the rows off one of them, not each.
    store(settings, msg(0))
    store(settings, msg(1), shard=5)
    store(settings, msg(now), shard=9)
    database = sa.make_url(settings.effective_database_url()).database
    with root_connection(database) as conn, conn.cursor() as cur:
        # What _drop leaves behind when it dies between the DROP and the summary.
        cur.execute(
            "UPDATE message_stats SET drop_partition = 'pbefore', drop_rows = 2 WHERE id = 1"
        )
        cur.execute("ALTER TABLE messages DROP PARTITION pbefore")
    assert db_rows(settings) == (1, 1, 3)
    assert maintain(settings, None).mended == "pbefore"
    assert db_rows(settings) == (1, 1, 1)
    # Journalled but died before the DROP: forgotten, the partition stays.
    with root_connection(database) as conn, conn.cursor() as cur:
        today = partition_name(day_start(now))
        cur.execute("UPDATE message_stats SET drop_partition = %s WHERE id = 1", (today,))
    assert maintain(settings, None).mended == today
    assert db_rows(settings) == (1, 1, 1)


def test_sqlite_deletes_old_rows_in_batches(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    engine = create_engine(s)
    upgrade(engine)
    with engine.begin() as conn:
        repo.store_batch(conn, [msg(i) for i in range(20)] + [msg(now_ms())], 3)
        repo.store_batch(conn, [msg(i) for i in range(20, 25)], 4)
    assert retention.delete_in_batches(engine, before_ms=1000, batch=10) == 25
    assert retention.maintain(engine, 1, now_ms()).deleted == 0
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT COUNT(*) FROM messages")).scalar_one()
        summary = repo.read_summary(conn)
    engine.dispose()
    assert (left, summary.rows, summary.stored_total) == (1, 1, 26)


def test_countq_maintain_prints_what_it_did(settings: Settings) -> None:
    env = {**settings_env(settings), "RETENTION_DAYS": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "countq", "maintain"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done == {"ran": True, "created": [], "dropped": {}, "deleted": 0, "mended": None}
    bad = subprocess.run(
        [sys.executable, "-m", "countq", "maintain"],
        env={**env, "RETENTION_DAYS": "0"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr == "countq: RETENTION_DAYS='0': Input should be greater than or equal to 1\n"


MIDNIGHT_CASES = {
    # now -> (the cutoff, the day partitions that end by it, counted from the migration's day)
    "last ms before midnight": (3 * DAY_MS - 1, DAY_MS, 1),
    "midnight": (3 * DAY_MS, 2 * DAY_MS, 2),
    "first s after midnight": (3 * DAY_MS + 1000, 2 * DAY_MS, 2),
}


@pytest.mark.parametrize("case", list(MIDNIGHT_CASES))
def test_mysql_drops_exactly_the_days_before_the_cutoff(settings: Settings, case: str) -> None:
    """RETENTION_DAYS=1 run at the end of day 2 (counted from the migration's
    day 0) keeps day 1 and day 2; one millisecond later it is day 3's run and
    day 1 goes too. The row at cutoff - 1 ms goes, the row at the cutoff stays."""
    now_offset, cutoff_offset, days_dropped = MIDNIGHT_CASES[case]
    day0 = migration_day(settings)
    cutoff = day0 + cutoff_offset
    assert retention.cutoff_ms(day0 + now_offset, 1) == cutoff
    assert store(settings, msg(0, 1), msg(cutoff - 1, 2), msg(cutoff, 3), msg(cutoff + 1, 4)) == 4
    done = maintain(settings, 1, day0 + now_offset)
    expected = {"pbefore": 1} | {partition_name(day0 + d * DAY_MS): 0 for d in range(days_dropped)}
    expected[partition_name(cutoff - DAY_MS)] = 1  # the day that ends at the cutoff: its last ms
    assert done.dropped == expected
    assert done.deleted == 2
    assert next(iter(partitions(settings))) == partition_name(cutoff)  # the first day kept
    assert enqueued(settings) == [cutoff, cutoff + 1]
    assert db_rows(settings) == (2, 2, 2)


@pytest.mark.parametrize("case", list(MIDNIGHT_CASES))
def test_sqlite_deletes_exactly_the_rows_before_the_cutoff(tmp_path: Path, case: str) -> None:
    """The same days on the embedded store: rows, not partitions, go."""
    now_offset, cutoff_offset, _ = MIDNIGHT_CASES[case]
    s = Settings(data_dir=tmp_path)
    engine = create_engine(s)
    upgrade(engine)
    engine.dispose()
    day0 = day_start(now_ms())
    cutoff = day0 + cutoff_offset
    assert store(s, msg(0, 1), msg(cutoff - 1, 2), msg(cutoff, 3), msg(cutoff + 1, 4)) == 4
    assert maintain(s, 1, day0 + now_offset) == retention.Maintenance(ran=True, deleted=2)
    assert enqueued(s) == [cutoff, cutoff + 1]
    assert db_rows(s) == (2, 2, 2)


def enqueued(settings: Settings) -> list[int]:
    engine = create_engine(settings)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(sa.text("SELECT enqueued_ms FROM messages ORDER BY 1")).scalars()
            )
    finally:
        engine.dispose()
