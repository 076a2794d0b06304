"""Every name the queue shares with Redis, in one place (arq's constants.py is the model).

- The keys: each carries the hash tag `{REDIS_QUEUE}`, so the scripts, which
  touch several keys, work on a Redis Cluster too (one slot). With
  QUEUE_PARTITIONS > 1 each partition's keys carry its own tag
  (`partition_tag`), and every helper below takes that tag as its `queue`.
- The stream entry's fields, and the two a dead letter adds to them.
- The order of each Lua script's KEYS and ARGV (lua/*.lua), and the codes
  it refuses with. Each script's header states them (`-- KEYS:`, `-- ARGV:`
  and `-- REFUSES:` lines, in the names used here),
  tests/unit/queue/test_keys.py checks the headers against `SCRIPTS`, and
  the Python side builds every call's arguments through the helper of its
  script below, never by hand.

The scripts spell no field name: the names arrive in ARGV, so this module
is the only place they are written.

One refusal protocol for every script: a refusal is an error reply whose
first word is a code below (then any detail, as "BACKLOG 10000"), and
queue/client.py's `refusal` turns each code into its countq.errors class,
the one place that maps them. Why error replies, and not a 0 or a status
table: it is how Redis itself refuses (BUSYGROUP, NOSCRIPT), with a code
and a detail; a refusal can never be read as a result; and an accepted call
costs nothing to unwrap, its reply stays the entry id, which matters on the
enqueue hot path. The enqueue script refuses per message: its reply is an
array in which a refused message's slot is the error reply and every
accepted one keeps its entry id (redis-py returns an error inside an array
as a ResponseError in the list, and raises only an error that is the whole
reply), so part of a batch can be taken and the rest refused in the same
round trip. Finding nothing to do is not a refusal: replaying a dead letter
that does not exist returns nil.

This module imports nothing from countq, so the layers below the queue
(`config`, `messages`) may read it too (the import contract allows them
these imports).
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import count as counting
from typing import Any

# Redis Cluster's slots (the cluster spec's "Keys distribution model").
REDIS_CLUSTER_HASH_SLOTS = 16384

# The consumer group every consumer reads the stream in.
GROUP = "consumers"


def stream_key(queue: str) -> str:
    """The stream of messages not yet stored."""
    return f"{{{queue}}}:stream"


def dead_key(queue: str) -> str:
    """The dead-letter stream: entries that could never be stored."""
    return f"{{{queue}}}:dead"


def registry_key(queue: str) -> str:
    """The set of the hash tags of every partition besides the queue's own that
    was ever written to (QUEUE_PARTITIONS > 1; queue/partitions.py)."""
    return f"{{{queue}}}:partitions"


def partition_tag(queue: str, index: int, partitions: int) -> str:
    """The hash tag of partition `index` of `partitions`: the queue's own for
    partition 0 (so one partition is exactly the single stream), else the
    first `<queue>.p<j>` whose slot is (slot(queue) + index * 16384 / partitions)
    mod 16384. Every key of a partition is then `stream_key(tag)` etc."""
    if not 0 <= index < partitions:
        raise ValueError(f"partition {index} of {partitions}")
    if index == 0:
        return queue
    offset = index * REDIS_CLUSTER_HASH_SLOTS // partitions
    return _tag_in_slot(queue, (slot_of(queue) + offset) % REDIS_CLUSTER_HASH_SLOTS)


def slot_of(tag: str) -> int:
    """The cluster slot of every key under the hash tag `tag`: CRC16 (XMODEM,
    binascii's crc_hqx) of the tag, as redis-py's key_slot computes it. Not
    redis-py's own: the importer Lambda reads these names through Settings and
    carries no redis."""
    return crc_hqx(tag.encode(), 0) % REDIS_CLUSTER_HASH_SLOTS


@lru_cache(maxsize=1024)
def _tag_in_slot(queue: str, slot: int) -> str:
    # CRC16 spreads these names evenly: ~16k tries on average, a few ms.
    for j in counting(1):
        tag = f"{queue}.p{j}"
        if slot_of(tag) == slot:
            return tag
    raise AssertionError("unreachable: counting never ends")


def latency_key(queue: str, second: int) -> str:
    """One second's end-to-end time buckets (queue/latency.py)."""
    return f"{{{queue}}}:e2e:{second}"


# A stream entry's fields, in the order the producer passes them per message.
ID = "id"
COUNT = "count"
TS = "ts"  # the enqueue time, ms since the epoch
TRACEPARENT = "traceparent"  # W3C trace context (countq.tracing); absent when tracing is off
MESSAGE_FIELDS = (ID, COUNT, TS, TRACEPARENT)

# The fields a dead letter adds to the message's own.
SOURCE_ENTRY = "source_entry"  # the stream entry id it had
REASON = "reason"  # why it could not be stored
DEAD_LETTER_FIELDS = (SOURCE_ENTRY, REASON)


# Refusal codes: the first word of a script's error reply.
BACKLOG = "BACKLOG"  # the stream is at the bound (MAX_BACKLOG); then its length
NOT_REPLAYABLE = "NOTREPLAYABLE"  # a dead letter with no message fields
REFUSALS = (BACKLOG, NOT_REPLAYABLE)


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script's calling convention: the names of its KEYS and of its ARGV, in
    order, and the codes it refuses with.

    `each` names the arguments repeated, in that order, for every item after
    the fixed ones (`per`: what an item is), as the header's
    `-- ARGV: a, b; per item: c, d` says.
    """

    name: str
    keys: tuple[str, ...]
    argv: tuple[str, ...]
    per: str = ""
    each: tuple[str, ...] = ()
    refuses: tuple[str, ...] = ()


ENQUEUE = Script(
    "enqueue",
    keys=("stream",),
    argv=("bound", *(f"{field}_field" for field in MESSAGE_FIELDS)),
    per="message",
    each=MESSAGE_FIELDS,
    refuses=(BACKLOG,),
)
ACK = Script("ack", keys=("stream",), argv=("group",), per="entry", each=("entry_id",))
DEAD_LETTER = Script(
    "dead_letter",
    keys=("stream", "dead"),
    argv=("group", "entry_id"),
    per="field",
    each=("name", "value"),
)
REPLAY = Script(
    "replay",
    keys=("stream", "dead"),
    argv=("dead_entry_id", "bound", *(f"{field}_field" for field in DEAD_LETTER_FIELDS)),
    refuses=(BACKLOG, NOT_REPLAYABLE),
)
SCRIPTS = (ENQUEUE, ACK, DEAD_LETTER, REPLAY)

Call = tuple[list[str], list[Any]]
"""A script call's KEYS and ARGV."""


def enqueue_call(queue: str, bound: int, messages: Iterable[Iterable[Any]]) -> Call:
    """Each message is its values in MESSAGE_FIELDS order; an empty traceparent adds no field."""
    values = [value for message in messages for value in message]
    return [stream_key(queue)], [bound, *MESSAGE_FIELDS, *values]


def ack_call(queue: str, entry_ids: Iterable[str]) -> Call:
    return [stream_key(queue)], [GROUP, *entry_ids]


def dead_letter_call(queue: str, entry_id: str, fields: Mapping[str, str], reason: str) -> Call:
    """The dead letter keeps the message's fields and adds DEAD_LETTER_FIELDS."""
    record = {**fields, SOURCE_ENTRY: entry_id, REASON: reason}
    pairs = [item for name_value in record.items() for item in name_value]
    return [stream_key(queue), dead_key(queue)], [GROUP, entry_id, *pairs]


def replay_call(queue: str, dead_entry_id: str, bound: int) -> Call:
    return [stream_key(queue), dead_key(queue)], [dead_entry_id, bound, *DEAD_LETTER_FIELDS]
