"""The services' queries: store a batch of messages (the consumer), read the summary (the API)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from countq.db.tables import STATS_ROW_ID, message_stats, messages
from countq.messages import Message

# Duplicate ids are skipped, not errors (MySQL: INSERT IGNORE in
# _mysql_insert_sql). The consumer validates every field before the insert,
# so IGNORE cannot hide a truncated value.
_insert_messages = messages.insert().prefix_with("OR IGNORE", dialect="sqlite")


@dataclass(frozen=True, slots=True)
class CountSummary:
    rows: int
    stored_total: int
    last_value: int | None
    last_id: bytes | None
    updated_ms: int | None


def summary_shard(consumer_name: str, shards: int) -> int:
    """The summary row (1..shards) a consumer writes to: a hash of its name.

    Names end in a random suffix (worker.loop.consumer_name), so the hash is as
    good as a random pick: a consumer has its row to itself, among c, with
    probability (1 - 1/S) ** (c - 1); two that share one wait on each other
    as every consumer did before shards. blake2b, not hash(): the same name
    gives the same row in every process.
    """
    digest = hashlib.blake2b(consumer_name.encode(), digest_size=8).digest()
    return STATS_ROW_ID + int.from_bytes(digest, "big") % shards


def store_batch(conn: Connection, batch: Sequence[Message], shard: int = STATS_ROW_ID) -> int:
    """Insert a batch and advance the summary row `shard`, in the caller's transaction.

    Returns how many rows were new (the rest were redeliveries).
    """
    if not batch:
        return 0
    now_ms = time.time_ns() // 1_000_000
    if conn.dialect.name == "mysql":
        inserted = conn.exec_driver_sql(_mysql_insert_sql(batch, now_ms)).rowcount
    else:
        inserted = conn.execute(_insert_messages, _rows(batch, now_ms)).rowcount
    advance = _advance(shard, max(inserted, 0), now_ms, max(batch, key=_age))
    # A shard's row is made the first time a consumer writes to it. Rows that
    # exist take a plain UPDATE by primary key: one row lock, as before shards.
    # SQLAlchemy's MySQL dialects count matched rows, not changed ones; and a
    # row the UPDATE left unchanged had nothing added, so running it again is harmless.
    if conn.execute(advance).rowcount == 0:
        conn.execute(_new_shard(shard))
        conn.execute(advance)
    return int(inserted)


def _advance(shard: int, inserted: int, now_ms: int, newest: Message) -> sa.Update:
    # The summary's "last" moves only forward: a reclaimed or redelivered older
    # message is stored after newer ones, and must not replace them.
    is_newer = sa.or_(
        message_stats.c.last_enqueued_ms.is_(None),
        message_stats.c.last_enqueued_ms < newest.enqueued_ms,
        sa.and_(
            message_stats.c.last_enqueued_ms == newest.enqueued_ms,
            message_stats.c.last_id < newest.message_id,
        ),
    )
    return (
        message_stats.update()
        .where(message_stats.c.id == shard)
        # MySQL evaluates SET left to right, each assignment seeing the ones
        # before it (SQLite sees the old row throughout): last_enqueued_ms goes
        # last so last_value and last_id are decided on the old row; after
        # last_id moved it still comes out right (the same ms, or a newer one).
        .ordered_values(
            (message_stats.c.row_count, message_stats.c.row_count + inserted),
            (message_stats.c.stored_total, message_stats.c.stored_total + inserted),
            (message_stats.c.updated_ms, now_ms),
            (message_stats.c.last_value, _if(is_newer, newest.count, message_stats.c.last_value)),
            (message_stats.c.last_id, _if(is_newer, newest.message_id, message_stats.c.last_id)),
            (
                message_stats.c.last_enqueued_ms,
                _if(is_newer, newest.enqueued_ms, message_stats.c.last_enqueued_ms),
            ),
        )
    )


def _new_shard(shard: int) -> sa.Insert:
    """An empty summary row; a no-op when another consumer made it meanwhile."""
    return (
        message_stats.insert()
        .values(id=shard, row_count=0, stored_total=0)
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )


# A message's age as a sort key, newer is larger: the enqueue time, then the id
# (time-ordered within the millisecond). attrgetter: ~40% less CPU than a def.
_age = attrgetter("enqueued_ms", "message_id")


def _if(condition: sa.ColumnElement[bool], then: object, otherwise: object) -> sa.Case[Any]:
    return sa.case((condition, then), else_=otherwise)


def _rows(batch: Sequence[Message], now_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "message_id": m.message_id,
            "count": m.count,
            "enqueued_ms": m.enqueued_ms,
            "stored_ms": now_ms,
        }
        for m in batch
    ]


def _mysql_insert_sql(batch: Sequence[Message], now_ms: int) -> str:
    """One multi-row INSERT with literal values.

    Every value is an int or 16 bytes that parse_entry validated, so literals
    are safe here, and they skip PyMySQL's per-value escaping, which made up a
    large share of the consumer's CPU per message with executemany
    (bench/bench_drain.py reports that CPU; docs/performance/results.md).
    """
    values = ",".join(
        f"(X'{m.message_id.hex()}',{int(m.count)},{int(m.enqueued_ms)},{now_ms})" for m in batch
    )
    return (
        "INSERT IGNORE INTO messages (message_id, count, enqueued_ms, stored_ms) VALUES "  # noqa: S608 (validated ints and hex only)
        + values
    )


# The summary is the sum of every shard's row: the rows that SUMMARY_SHARDS
# names today, and any an earlier, larger SUMMARY_SHARDS left (they still hold
# counts). At most SUMMARY_SHARDS rows (64 by default, one InnoDB page):
# constant time, whatever the size of `messages`.
# One statement, so one consistent snapshot of all of them.
_totals = sa.select(
    sa.func.coalesce(sa.func.sum(message_stats.c.row_count), 0).label("rows"),
    sa.func.coalesce(sa.func.sum(message_stats.c.stored_total), 0).label("stored_total"),
    sa.func.max(message_stats.c.updated_ms).label("updated_ms"),
).subquery("totals")
_summary_query = (
    sa.select(
        _totals.c.rows,
        _totals.c.stored_total,
        message_stats.c.last_value,
        message_stats.c.last_id,
        _totals.c.updated_ms,
    )
    .select_from(message_stats.join(_totals, sa.true()))
    # "last" across shards: the newest by (enqueue time, id), as within one.
    # NULLs sort last in DESC on both MySQL and SQLite: a shard with no "last" loses.
    .order_by(message_stats.c.last_enqueued_ms.desc(), message_stats.c.last_id.desc())
    .limit(1)
)


def read_summary(conn: Connection) -> CountSummary:
    row = conn.execute(_summary_query).one_or_none()
    if row is None:
        return CountSummary(0, 0, None, None, None)
    return CountSummary(int(row[0]), int(row[1]), row[2], row[3], row[4])


def summary(engine: Engine) -> CountSummary:
    with engine.connect() as conn:
        return read_summary(conn)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def ms_to_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
