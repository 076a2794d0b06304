"""Filling a test's stream directly, as the producer would."""

from __future__ import annotations

import redis

from countq.config import Settings
from countq.messages import uuid7
from tests.helpers.services import REDIS_URL


def fill_stream(settings: Settings, n: int) -> None:
    """Queue n messages the way the producer does, in pipelined chunks."""
    r = redis.Redis.from_url(REDIS_URL)
    r.xgroup_create(settings.stream_key, settings.group, id="0", mkstream=True)
    for start in range(0, n, 5000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + 5000)):
            pipe.xadd(settings.stream_key, {"id": str(uuid7()), "count": i, "ts": 0})
        pipe.execute()


def drained(client: redis.Redis, settings: Settings) -> bool:
    """Every entry stored and acked: nothing queued, nothing pending."""
    return (
        client.xlen(settings.stream_key) == 0
        and client.xpending(settings.stream_key, settings.group)["pending"] == 0
    )
