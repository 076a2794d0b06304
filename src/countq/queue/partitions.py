"""QUEUE_PARTITIONS: the queue as N streams in N cluster slots, named in one place.

One hash tag lives in one slot, so on one shard: with N > 1 the queue is N
streams, each with its own consumer group and dead letters, under tags
chosen to fall in N slots spread evenly over the 16,384.

- Partition 0 is always the queue's own tag (`{countq}:stream`), so N = 1 is
  exactly the single-stream layout, and every N keeps that stream.
- Partition i of N lives in the slot (slot(queue) + i * 16384 / N) mod 16384,
  exactly: its tag is the first `<queue>.p<j>` whose slot that is. A tag
  depends only on its slot, so a partition shared by two values of N (1 of 2
  and 2 of 4) is the same stream. On a cluster whose primaries own equal
  slot ranges, N = (a multiple of) the primary count puts a partition on
  every primary; on a single Redis the tags change nothing.
- Every tag besides the queue's own is written to a registry set,
  `{queue}:partitions`, before anything is written to its stream. Consumers
  serve every partition in it, not only the N they are configured with, so
  changing N loses nothing: the streams of a smaller N drain as before. The
  registry only grows (a retired stream may still hold dead letters; an
  empty one costs a consumer one non-blocking read per round).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import count as counting

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from countq.config import Settings


@dataclass(frozen=True, slots=True)
class Partition:
    """One stream of the queue, its dead letters and its consumer group."""

    tag: str

    @property
    def stream_key(self) -> str:
        return f"{{{self.tag}}}:stream"

    @property
    def dead_key(self) -> str:
        return f"{{{self.tag}}}:dead"

    @property
    def slot(self) -> int:
        return slot_of(self.tag)


def slot_of(tag: str) -> int:
    """The cluster slot of every key under the hash tag `tag`."""
    return int(key_slot(f"{{{tag}}}".encode()))


def partition_tag(queue: str, index: int, partitions: int) -> str:
    """The hash tag of partition `index` of `partitions` (see the module's text)."""
    if not 0 <= index < partitions:
        raise ValueError(f"partition {index} of {partitions}")
    if index == 0:
        return queue
    offset = index * REDIS_CLUSTER_HASH_SLOTS // partitions
    return _tag_in_slot(queue, (slot_of(queue) + offset) % REDIS_CLUSTER_HASH_SLOTS)


@lru_cache(maxsize=1024)
def _tag_in_slot(queue: str, slot: int) -> str:
    # CRC16 spreads these names evenly: ~16k tries on average, a few ms.
    for j in counting(1):
        tag = f"{queue}.p{j}"
        if slot_of(tag) == slot:
            return tag
    raise AssertionError("unreachable: counting never ends")


def configured(settings: Settings) -> list[Partition]:
    """The QUEUE_PARTITIONS partitions this process writes to (the producer) and
    creates groups on; consumers serve these and every registered one."""
    n = settings.queue_partitions
    return [Partition(partition_tag(settings.redis_queue, i, n)) for i in range(n)]


def base(settings: Settings) -> Partition:
    return Partition(settings.redis_queue)


def registry_key(settings: Settings) -> str:
    """The set of every partition tag besides the queue's own, ever written to."""
    return f"{{{settings.redis_queue}}}:partitions"


def known(settings: Settings, registered: set[str]) -> list[Partition]:
    """The configured partitions, then the registered others (sorted: every
    process serves them in the same order)."""
    mine = configured(settings)
    others = sorted(registered - {p.tag for p in mine})
    return [*mine, *(Partition(tag) for tag in others)]


def index_of(message_id: str, partitions: int) -> int:
    """The partition of a message: from its id (a UUID's random tail), so a
    retry of the same id lands on the same partition."""
    return int(message_id.replace("-", "")[-8:], 16) % partitions


def bound_per_partition(settings: Settings) -> int:
    """MAX_BACKLOG over the partitions, rounded up.

    One script sees one slot, so no call can check the whole backlog and
    append atomically on a cluster. Messages spread evenly by id and every
    consumer serves every partition in turn, so equal shares fill together:
    the whole backlog stays within MAX_BACKLOG + N - 1, and the producer
    refuses at about MAX_BACKLOG, as with one stream. (Streams retired by a
    smaller N only drain; they are not counted against it.)
    """
    return math.ceil(settings.max_backlog / settings.queue_partitions)
