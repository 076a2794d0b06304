"""QUEUE_PARTITIONS: the queue as N streams in N cluster slots (named in keys.py).

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

from countq.config import Settings
from countq.queue import keys
from countq.queue.keys import partition_tag


@dataclass(frozen=True, slots=True)
class Partition:
    """One stream of the queue, its dead letters and its consumer group; the key
    helpers of keys.py take its tag as their `queue`."""

    tag: str

    @property
    def stream_key(self) -> str:
        return keys.stream_key(self.tag)

    @property
    def dead_key(self) -> str:
        return keys.dead_key(self.tag)

    @property
    def slot(self) -> int:
        return keys.slot_of(self.tag)


def configured(settings: Settings) -> list[Partition]:
    """The QUEUE_PARTITIONS partitions this process writes to (the producer) and
    creates groups on; consumers serve these and every registered one."""
    n = settings.queue_partitions
    return [Partition(partition_tag(settings.redis_queue, i, n)) for i in range(n)]


def base(settings: Settings) -> Partition:
    return Partition(settings.redis_queue)


def registry_key(settings: Settings) -> str:
    return keys.registry_key(settings.redis_queue)


def known(settings: Settings, registered: set[str]) -> list[Partition]:
    """The configured partitions, then the registered others (sorted: every
    process serves them in the same order)."""
    mine = configured(settings)
    others = sorted(registered - {p.tag for p in mine})
    return [*mine, *(Partition(tag) for tag in others)]


_TAIL = 8  # hex digits: the last 32 of a UUIDv7's random bits
_TAIL_MAX = (1 << 32) - 1


def index_of(message_id: str, partitions: int) -> int:
    """The partition of a message: from its id (a UUID's random tail), so a
    retry of the same id lands on the same partition."""
    return int(message_id[-_TAIL:], 16) % partitions


def in_partition(message_id: str, index: int, partitions: int) -> str:
    """The id with its random tail moved to the nearest value of partition `index`.

    The producer makes the ids of the messages of one event-loop turn fall in
    one partition (the next in turn), so the turn is still one script call:
    split N ways, small batches would cost Redis a call each (measured in
    bench/bench_partitions.py). Such an id loses log2(N) of its 62 random bits.
    """
    tail = int(message_id[-_TAIL:], 16)
    moved = tail - tail % partitions + index
    if moved > _TAIL_MAX:
        moved -= partitions
    return f"{message_id[:-_TAIL]}{moved:0{_TAIL}x}"


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
