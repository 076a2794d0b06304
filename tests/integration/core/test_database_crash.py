"""MariaDB killed hard: a private mariadbd SIGKILLed twice while a consumer
drains a backlog and POSTs keep coming; after InnoDB's recovery every message
is stored exactly once and the summary row equals COUNT(*).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from countq.config import Settings
from tests.helpers.database import db_rows, migrate
from tests.helpers.loadgen import OpenLoop
from tests.helpers.private_mariadb import PrivateMariaDB
from tests.helpers.processes import LiveStack, free_port, settings_env, wait_until
from tests.helpers.services import REDIS_URL
from tests.helpers.streams import fill_stream

# MariaDB SIGKILLed twice under a 100,000-message drain: make test-fast leaves it out.
pytestmark = pytest.mark.slow

BACKLOG = 100_000
POST_RATE = 200.0


def test_mariadb_sigkilled_twice_while_draining(redis_queue: str, tmp_path: Path) -> None:
    db = PrivateMariaDB(tmp_path / "mariadb").start()
    stack: LiveStack | None = None
    try:
        with db.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE countq")
        s = Settings(
            database_url=db.url("countq"),
            redis_url=REDIS_URL,
            redis_queue=redis_queue,
            data_dir=tmp_path,
            claim_idle_ms=500,
        )
        migrate(s.effective_database_url())
        fill_stream(s, BACKLOG)
        # A generous REDIS_TIMEOUT_S: a POST refused because the shared machine
        # starved the producer would make the count below inexact.
        env = {**settings_env(s), "CONSUMER_BATCH_SIZE": "500", "REDIS_TIMEOUT_S": "5"}
        stack = LiveStack(s, env, free_port(), tmp_path)
        stack.start_producer()
        stack.start_consumer()
        load = OpenLoop(stack.port, POST_RATE, connections=8).start()
        for k in (1, 2):  # each kill at a different point of the drain
            wait_until(lambda k=k: db_rows(s)[2] >= k * BACKLOG // 3, timeout=60, interval=0.1)
            db.kill()
            time.sleep(1)  # the consumer meets a dead server and retries
            db.start()
        assert db_rows(s)[2] < BACKLOG, "the second kill must land mid-drain"
        answers = load.stop()
        assert {a.status for a in answers} == {202}, {a.body for a in answers}  # Redis only
        r = redis.Redis.from_url(REDIS_URL)
        wait_until(lambda: r.xlen(s.stream_key) == 0, timeout=60, interval=0.2)
        total = BACKLOG + len(answers)
        assert db_rows(s) == (total, total, total)
        assert stack.procs["consumer"].poll() is None  # it resumed by itself, twice
    finally:
        if stack is not None:
            stack.stop_all()
        db.stop()
