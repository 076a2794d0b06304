"""The end-to-end time (POST to stored) of the last minute, shared in Redis.

Why in Redis: /stats must answer for every consumer at once, and cheaply. Each
consumer adds what it stored to one small hash per second,
`{queue}:e2e:<unix second>` (field: a log bucket, value: how many messages),
at most once a second; /stats reads the last 60 of them in one pipelined round
trip and takes p50/p99 from the merged buckets. The hashes expire on their own,
so nothing grows, and no consumer has to be asked.

Buckets grow by 5% each, so a quantile read from them is within 5% of the true
one, from 1 ms to days, in a few hundred fields at most.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from countq.config import Settings
from countq.queue import keys

GROWTH = 1.05
WINDOW_S = 60
# Long enough for a reader one window behind; short enough that nothing piles up.
KEY_TTL_S = 2 * WINDOW_S
_LOG_GROWTH = math.log(GROWTH)


def bucket_of(ms: int) -> int:
    """The log bucket of a time in ms: bucket i holds (GROWTH**(i-1), GROWTH**i] ms."""
    return 0 if ms <= 1 else math.ceil(math.log(ms) / _LOG_GROWTH - 1e-9)


def bucket_ms(bucket: int) -> float:
    """A bucket's upper bound in ms: the value a quantile in it is reported as."""
    return float(GROWTH**bucket)


def second_key(settings: Settings, second: int) -> str:
    return keys.latency_key(settings.redis_queue, second)


def add_to_window(client: Any, settings: Settings, seconds: Mapping[int, Counter[int]]) -> None:
    """Add per-second bucket counts to the shared window (one pipelined round trip)."""
    pipe = client.pipeline(transaction=False)
    for second, buckets in seconds.items():
        key = second_key(settings, second)
        for bucket, count in buckets.items():
            pipe.hincrby(key, str(bucket), count)
        pipe.expire(key, KEY_TTL_S)
    pipe.execute()


def window_pipeline(client: Any, settings: Settings, now: float | None = None) -> Any:
    """The last WINDOW_S seconds' hashes, read in one pipeline (sync or asyncio)."""
    current = int(time.time() if now is None else now)
    pipe = client.pipeline(transaction=False)
    for second in range(current - WINDOW_S + 1, current + 1):
        pipe.hgetall(second_key(settings, second))
    return pipe


def merge(replies: Iterable[Mapping[str, str] | None]) -> Counter[int]:
    merged: Counter[int] = Counter()
    for reply in replies:
        for bucket, count in (reply or {}).items():
            merged[int(bucket)] += int(count)
    return merged


def quantile_seconds(buckets: Mapping[int, int], q: float) -> float | None:
    """The q-quantile in seconds (the upper bound of the bucket that holds it); None if empty."""
    total = sum(buckets.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return round(bucket_ms(bucket) / 1000, 4)
    raise AssertionError("unreachable: the ranks add up to the total")
