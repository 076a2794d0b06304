"""A count message: what the producer writes to the stream, and how the consumer reads it back.

The one place for the message's bounds; its fields' names are the queue's
(countq.queue.keys, which imports nothing from countq), so the API, the
queue and the store can all depend on this module.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

from countq.queue.keys import COUNT, ID, TRACEPARENT, TS

# MySQL's BIGINT: every count and enqueue time must fit in it.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7 (RFC 9562): unique ids that keep the index append-mostly.

    rand_a holds the millisecond's fraction in 1/4096 steps (RFC 9562 6.2,
    method 3), so ids made one after another sort in the order they were
    made even within one millisecond: GET /count's "last" breaks ties by id.
    """
    ms, ns = divmod(time.time_ns(), 1_000_000)
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (ns * 4096 // 1_000_000) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_message(count: int) -> tuple[str, int, int]:
    """The id, count and enqueue time (ms) of a new message, in the order of
    the entry's fields (keys.MESSAGE_FIELDS)."""
    return str(uuid7()), count, time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Message:
    """A message read back from its stream entry, validated and ready to store."""

    entry_id: str
    message_id: bytes
    count: int
    enqueued_ms: int
    traceparent: str | None = None  # W3C trace context (countq.tracing); optional

    def fields(self) -> dict[str, str]:
        """The entry's fields again (parse_entry's inverse): a dead letter keeps them."""
        fields = {
            ID: str(uuid.UUID(bytes=self.message_id)),
            COUNT: str(self.count),
            TS: str(self.enqueued_ms),
        }
        if self.traceparent:
            fields[TRACEPARENT] = self.traceparent
        return fields


def _uuid_bytes(text: str) -> bytes:
    """`uuid.UUID(text).bytes`, with a fast path for the canonical 8-4-4-4-12
    form every producer writes: a few times cheaper than uuid.UUID, which was
    a visible share of the consumer's CPU per message (bench/bench_drain.py
    reports that CPU per message; docs/performance/results.md)."""
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        try:
            raw = bytes.fromhex(text.replace("-", ""))
        except ValueError:
            raw = b""
        if len(raw) == 16:  # fromhex skips whitespace: 16 bytes means 32 hex digits
            return raw
    return uuid.UUID(text).bytes  # any other form, or its ValueError


def parse_entry(entry_id: str, fields: dict[str, str] | None) -> Message:
    """Validate one stream entry; ValueError means it can never be stored (poison)."""
    if not fields:
        raise ValueError("entry has no fields (deleted or empty)")
    try:
        message_id = _uuid_bytes(fields[ID])
        count = int(fields[COUNT])
        enqueued_ms = int(fields[TS])
    except KeyError as exc:
        raise ValueError(f"missing field {exc.args[0]!r}") from None
    if not INT64_MIN <= count <= INT64_MAX:
        raise ValueError(f"count {count} outside the BIGINT range")
    # Any writer can XADD (an older producer, a script, a replay): past BIGINT,
    # SQLite's driver raises and MySQL's INSERT IGNORE clamps to a wrong day.
    if not 0 <= enqueued_ms <= INT64_MAX:
        raise ValueError(f"ts {enqueued_ms} outside 0..{INT64_MAX}")
    return Message(entry_id, message_id, count, enqueued_ms, fields.get(TRACEPARENT))
