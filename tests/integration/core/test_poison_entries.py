"""Poison entries beside good ones: each bad entry is dead-lettered alone, with
its reason; the good ones are stored; the consumer process stays up and holds
nothing pending. On both stores: SQLite (the embedded default) and MariaDB.

Any writer can XADD to the stream (an older producer, a script, a replay), so
the consumer cannot trust a field because the producer checks it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from countq.config import Settings
from countq.db.engine import create_engine
from countq.messages import INT64_MAX, uuid7
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows, migrate
from tests.helpers.processes import settings_env, start_consumer, stop, wait_until
from tests.helpers.services import REDIS_URL

NOW_MS = 1_764_283_170_123


def good(count: int) -> dict[str, str]:
    return {"id": str(uuid7()), "count": str(count), "ts": str(NOW_MS + count)}


def with_ts(ts: str) -> dict[str, str]:
    return {"id": str(uuid7()), "count": "7", "ts": ts}


@pytest.fixture(params=["sqlite", "mariadb"])
def store_settings(request: pytest.FixtureRequest, redis_queue: str, tmp_path: Path) -> Settings:
    """Settings on the real Redis, with the one store or the other."""
    if request.param == "mariadb":
        settings: Settings = request.getfixturevalue("settings")
        return settings
    url = f"sqlite:///{tmp_path / 'countq.db'}"
    migrate(url)
    return Settings(
        database_url=url,
        redis_url=REDIS_URL,
        redis_queue=redis_queue,
        data_dir=tmp_path,
        claim_idle_ms=500,
    )


def dead_letters(r: redis.Redis, s: Settings) -> dict[str, str]:
    """ts of each dead-lettered message -> its reason."""
    return {f["ts"]: f["reason"] for _, f in r.xrange(s.dead_key)}


def pending(r: redis.Redis, s: Settings) -> int:
    return int(r.xpending(s.stream_key, s.group)["pending"])


def test_poison_ts_is_dead_lettered_and_the_consumer_lives_on(
    store_settings: Settings, tmp_path: Path
) -> None:
    """The issue's case: 5 good, 3 poison ts (past BIGINT, negative, not a
    number), 5 good, in one batch. SQLite raised OverflowError on 10^20 and
    the consumer exited; MySQL would have clamped it into a wrong enqueue time."""
    s = store_settings
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    consumer = start_consumer(settings_env(s), tmp_path / "consumer.log")
    try:
        with r.pipeline(transaction=True) as pipe:  # one batch: poison in the middle
            for n in range(5):
                pipe.xadd(s.stream_key, good(n))
            for ts in (str(10**20), "-5", "x"):
                pipe.xadd(s.stream_key, with_ts(ts))
            for n in range(5, 10):
                pipe.xadd(s.stream_key, good(n))
            pipe.execute()
        wait_until(lambda: db_rows(s)[0] == 10 and r.xlen(s.dead_key) == 3, timeout=30)
        wait_until(lambda: pending(r, s) == 0, timeout=10)
        assert dead_letters(r, s) == {
            str(10**20): f"invalid message: ts {10**20} outside 0..{INT64_MAX}",
            "-5": f"invalid message: ts -5 outside 0..{INT64_MAX}",
            "x": "invalid message: invalid literal for int() with base 10: 'x'",
        }
        assert db_rows(s) == (10, 10, 10)
        assert consumer.poll() is None, (tmp_path / "consumer.log").read_text()
        # Still consuming, not merely alive.
        r.xadd(s.stream_key, good(10))
        wait_until(lambda: db_rows(s)[0] == 11, timeout=30)
        assert pending(r, s) == 0
        assert r.xlen(s.stream_key) == 0
    finally:
        assert stop(consumer) == 0, (tmp_path / "consumer.log").read_text()
    assert "Traceback" not in (tmp_path / "consumer.log").read_text()


def test_a_row_the_store_refuses_is_dead_lettered_alone(tmp_path: Path, redis_queue: str) -> None:
    """The per-row fallback: a batch the store refuses is stored row by row, and
    only the rows it refuses are dead-lettered. Two refusals: one the database
    signals (IntegrityError, from a trigger planted here) and one the driver
    raises before it (OverflowError: an enqueue time no validation stopped,
    standing for whatever a future field lets through). Neither is an outage,
    so neither is retried forever, and neither stops the consumer."""
    url = f"sqlite:///{tmp_path / 'countq.db'}"
    migrate(url)
    s = Settings(database_url=url, redis_url=REDIS_URL, redis_queue=redis_queue, data_dir=tmp_path)
    engine = create_engine(s)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON messages WHEN NEW.count = 13"
                " BEGIN SELECT RAISE(ABORT, 'thirteen refused by a test trigger'); END"
            )
        )
    engine.dispose()
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    for count in (1, 13, 2, 3):
        r.xadd(s.stream_key, good(count))
    consumer = Consumer(s, name="fallback")
    consumer.queue.ensure_group()
    batch = consumer.fetch()
    assert [m.count for m in batch.messages] == [1, 13, 2, 3]
    # Count 3's enqueue time is made unstorable after validation.
    batch.messages[3] = dataclasses.replace(batch.messages[3], enqueued_ms=10**20)
    consumer.ack(batch.partition, consumer.handle(batch))
    assert db_rows(s) == (2, 2, 2)
    reasons = {f["count"]: f["reason"] for _, f in r.xrange(s.dead_key)}
    assert reasons == {
        "13": "database refused it: IntegrityError: thirteen refused by a test trigger",
        "3": "database refused it: OverflowError:"
        " Python int too large to convert to SQLite INTEGER",
    }
    assert pending(r, s) == 0
    assert r.xlen(s.stream_key) == 0
    consumer.queue.close()
    consumer.engine.dispose()
