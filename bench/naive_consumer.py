"""The naive reference consumer: BLPOP one message, one autocommit INSERT, repeat.

Run as a process: `python bench/naive_consumer.py` with DATABASE_URL (a
mysql+pymysql URL), REDIS_URL and REDIS_QUEUE set, as countq's consumer is.
It stores into `naive_messages`, a plain table it creates if missing.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any
from urllib.parse import urlparse

import pymysql
import redis

TABLE = """
CREATE TABLE IF NOT EXISTS naive_messages (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  message_id CHAR(36) NOT NULL,
  count BIGINT NOT NULL,
  enqueued_ms BIGINT NOT NULL,
  stored_ms BIGINT NOT NULL
)
"""


def main() -> None:
    url = urlparse(os.environ["DATABASE_URL"].replace("mysql+pymysql", "mysql"))
    db = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.path.lstrip("/"),
        autocommit=True,
        ssl_disabled=True,  # one connection for the whole run; TLS is not what is compared
    )
    queue = os.environ.get("REDIS_QUEUE", "naive") + ":list"
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    stopping = False

    def _stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    with db.cursor() as cur:
        cur.execute(TABLE)
    while not stopping:
        item = client.brpop([queue], timeout=1)  # LPUSH + BRPOP: first in, first out
        if item is None:
            continue
        message = json.loads(item[1])
        with db.cursor() as cur:
            cur.execute(
                "INSERT INTO naive_messages (message_id, count, enqueued_ms, stored_ms)"
                " VALUES (%s, %s, %s, %s)",
                (message["id"], message["count"], message["ts"], time.time_ns() // 1_000_000),
            )


if __name__ == "__main__":
    main()
