"""GET /count's last_value never goes back in time (issue 22).

A consumer killed mid-drain leaves entries pending; the next consumer reads
newer entries first and reclaims the old ones only once they are idle for
CLAIM_IDLE_MS, so older messages are stored after newer ones.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
import redis
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.db.migrate import MIGRATIONS
from countq.messages import Message
from tests.helpers.database import db_rows
from tests.helpers.loadgen import post_counts
from tests.helpers.processes import LiveStack, free_port, settings_env, start_consumer, wait_until
from tests.helpers.services import REDIS_URL
from tests.helpers.streams import drained


@pytest.mark.slow
def test_last_value_ends_at_the_newest_count_after_a_sigkill(
    settings: Settings, tmp_path: Path
) -> None:
    n = 20_000
    # Reclaim only after the second consumer has stored newer entries.
    env = {**settings_env(settings), "CONSUMER_BATCH_SIZE": "200", "CLAIM_IDLE_MS": "3000"}
    stack = LiveStack(settings, env, free_port(), tmp_path)
    r = redis.Redis.from_url(REDIS_URL)
    try:
        stack.start_producer()
        statuses = post_counts(stack.port, range(1, n))
        # The newest count alone, once every other one was answered: the last POSTed.
        statuses += post_counts(stack.port, range(n, n + 1), connections=1)
        assert statuses == [202] * n

        first = start_consumer(env, tmp_path / "consumer.log")
        wait_until(lambda: db_rows(settings)[2] >= n // 4, timeout=60, interval=0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert db_rows(settings)[2] < n, "the kill must land mid-drain"
        held = r.xpending(settings.stream_key, settings.group)["pending"]
        assert held > 0, "the killed consumer must leave entries to reclaim"

        stack.start_consumer()
        wait_until(lambda: drained(r, settings), timeout=120, interval=0.2)
        summary = httpx.get(f"{stack.url}/count").json()
    finally:
        stack.stop_all()
        r.close()
    assert db_rows(settings) == (n, n, n)
    assert (summary["rows"], summary["last_value"]) == (n, n)


def _message(count: int, enqueued_ms: int, message_id: bytes) -> Message:
    return Message(f"{enqueued_ms}-0", message_id, count, enqueued_ms)


def test_last_is_the_newest_by_enqueue_time_then_id(store_engine: Engine) -> None:
    def store(*batch: Message) -> tuple[int | None, bytes | None]:
        with store_engine.begin() as conn:
            repo.store_batch(conn, batch)
            found = repo.read_summary(conn)
        return found.last_value, found.last_id

    low, high = b"\x01" * 16, b"\x02" * 16
    # Within a batch: the newest, wherever it stands.
    assert store(_message(2, 2000, low), _message(1, 1000, low)) == (2, low)
    assert store(_message(0, 500, high)) == (2, low)  # an older one stored later
    assert store(_message(3, 2000, high)) == (3, high)  # the same ms, a larger id
    assert store(_message(4, 2000, low)) == (3, high)  # the same ms, a smaller id
    assert store(_message(5, 2001, low)) == (5, low)


def test_the_migration_mends_a_last_value_moved_back(mysql_database: str) -> None:
    """0003 sets "last" from the newest stored message (the summary of an
    earlier version may hold a reclaimed, older one)."""
    engine = create_engine(Settings(database_url=mysql_database))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
            # What 0002's consumer left: the older message stored last.
            conn.exec_driver_sql(
                "INSERT INTO messages (message_id, count, enqueued_ms, stored_ms)"
                " VALUES (%s, 2, 2000, 3000), (%s, 1, 1000, 4000)",
                (b"\x02" * 16, b"\x01" * 16),
            )
            conn.exec_driver_sql(
                "UPDATE message_stats SET row_count = 2, last_value = 1, last_id = %s",
                (b"\x01" * 16,),
            )
            command.upgrade(config, "head")
            found = repo.read_summary(conn)
    finally:
        engine.dispose()
    assert (found.last_value, found.last_id) == (2, b"\x02" * 16)
