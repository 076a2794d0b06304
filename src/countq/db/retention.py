"""RETENTION_DAYS: the maintenance step that keeps `messages` from growing forever.

MySQL: `messages` is RANGE-partitioned by `enqueued_ms`, one partition per UTC
day (migration 0002). Each run, under a MySQL named lock so that concurrent
runs do not interleave (a second one returns at once, `ran: false`):

1. mend a drop a crash interrupted (the journal in `message_stats`);
2. create the partitions up to AHEAD_DAYS ahead, split off the empty
   `pfuture` (cheap while it is empty: it only holds values past the last day);
3. with RETENTION_DAYS set, drop each partition that ends on or before the
   cutoff (today's start minus RETENTION_DAYS days), and take its rows off
   the summary's `row_count` in the same locked step, so `row_count` stays
   equal to COUNT(*). `stored_total` never goes down.

The summary has SUMMARY_SHARDS rows and only their sum counts: the rows that
go are taken off the first row (STATS_ROW_ID), which also holds the journal.

The drop holds LOCK TABLES messages, message_stats for one COUNT(*) of the
partition and the DROP: the consumer waits that long (its insert blocks, no
error). The DROP itself is a metadata change, whatever the partition's size.

SQLite (the embedded default): rows older than the cutoff are deleted in
batches of SQLITE_BATCH, each in one transaction with the summary update.

It needs ALTER, DROP and LOCK TABLES on MySQL, which the application's user
does not have: in AWS the importer Lambda runs it as the master user
(`{"action": "maintain"}`, on an EventBridge schedule); from a shell,
`countq maintain`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from countq.config import Settings
from countq.db import locks
from countq.db.engine import create_engine, misconfiguration
from countq.db.locks import named_lock
from countq.db.tables import STATS_ROW_ID, message_stats, messages
from countq.errors import ConfigError

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
AHEAD_DAYS = 7
SQLITE_BATCH = 10_000
FUTURE = "pfuture"


@dataclass
class Maintenance:
    ran: bool
    """False when another run held the lock (nothing done, nothing wrong)."""
    created: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    """Partition name -> rows it held."""
    deleted: int = 0
    """Rows deleted (SQLite), or dropped in all (MySQL)."""
    mended: str | None = None


def day_start(ms: int) -> int:
    return ms - ms % DAY_MS


def partition_name(day_ms: int) -> str:
    return datetime.fromtimestamp(day_ms / 1000, tz=UTC).strftime("p%Y%m%d")


def cutoff_ms(now_ms: int, retention_days: int) -> int:
    """Rows enqueued before this go: today (UTC) and the RETENTION_DAYS days before it stay."""
    return day_start(now_ms) - retention_days * DAY_MS


def run(settings: Settings) -> Maintenance:
    """One run on the database the settings name, RETENTION_DAYS from them: the one
    entry point of `countq maintain` and the importer's `maintain` action."""
    engine = create_engine(settings, pool_size=1)
    try:
        return maintain(engine, settings.retention_days)
    except sa.exc.OperationalError as exc:
        raise (misconfiguration(exc, settings) or exc) from None
    finally:
        engine.dispose()


def maintain(engine: Engine, retention_days: int | None, now_ms: int | None = None) -> Maintenance:
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if engine.dialect.name == "mysql":
        return _maintain_mysql(engine, retention_days, now_ms)
    done = Maintenance(ran=True)
    if retention_days:
        done.deleted = delete_in_batches(engine, cutoff_ms(now_ms, retention_days))
    return done


def delete_in_batches(engine: Engine, before_ms: int, batch: int = SQLITE_BATCH) -> int:
    """Delete rows enqueued before `before_ms`, `batch` at a time, each batch in one
    transaction with the summary, so a reader never waits long and the summary
    is right after every batch."""
    total = 0
    old = sa.select(messages.c.seq).where(messages.c.enqueued_ms < before_ms).limit(batch)
    while True:
        with engine.begin() as conn:
            gone = conn.execute(messages.delete().where(messages.c.seq.in_(old))).rowcount
            conn.execute(
                message_stats.update()
                .where(message_stats.c.id == STATS_ROW_ID)
                .values(row_count=message_stats.c.row_count - gone)
            )
        total += gone
        if gone < batch:
            return total


def lock_name(database: str) -> str:
    return locks.lock_name("retention", database)


def _maintain_mysql(engine: Engine, retention_days: int | None, now_ms: int) -> Maintenance:
    raw = engine.raw_connection()
    try:
        raw.autocommit(True)  # DDL commits anyway; every step below stands alone
        cur: Any = raw.cursor()
        cur.execute("SELECT DATABASE()")
        name = lock_name(cur.fetchone()[0])
        with named_lock(cur, name) as got:
            if not got:
                log.info("retention: another run holds %s; nothing to do", name)
                return Maintenance(ran=False)
            done = Maintenance(ran=True, mended=_mend(cur))
            done.created = _create_ahead(cur, day_start(now_ms) + (AHEAD_DAYS + 1) * DAY_MS)
            if retention_days:
                done.dropped = _drop_before(cur, cutoff_ms(now_ms, retention_days))
                done.deleted = sum(done.dropped.values())
        log.info(
            "retention: created %s, dropped %s", done.created or "none", done.dropped or "none"
        )
        return done
    finally:
        raw.autocommit(False)  # back to what the pool hands out
        raw.close()


def partitions(cur: Any) -> list[tuple[str, int | None]]:
    """(name, upper bound) of each partition of `messages`, in order; None is MAXVALUE."""
    cur.execute(
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'messages'"
        " ORDER BY PARTITION_ORDINAL_POSITION"
    )
    rows = cur.fetchall()
    if not rows or rows[0][0] is None:
        raise ConfigError("messages is not partitioned: run `countq migrate` first")
    return [(str(n), None if d == "MAXVALUE" else int(d)) for n, d in rows]


def _mend(cur: Any) -> str | None:
    """A drop journalled but maybe not done: if the partition is gone, take its
    rows off the summary now; if it is still there, forget the journal (the
    drop below will count it again)."""
    cur.execute(
        "SELECT drop_partition, drop_rows FROM message_stats WHERE id = %s", (STATS_ROW_ID,)
    )
    journal, rows = cur.fetchone()
    if journal is None:
        return None
    if any(name == journal for name, _ in partitions(cur)):
        cur.execute(
            "UPDATE message_stats SET drop_partition = NULL, drop_rows = NULL WHERE id = %s",
            (STATS_ROW_ID,),
        )
    else:
        cur.execute(
            "UPDATE message_stats SET row_count = row_count - %s,"
            " drop_partition = NULL, drop_rows = NULL WHERE id = %s",
            (rows, STATS_ROW_ID),
        )
    log.warning("retention: mended the interrupted drop of %s", journal)
    return str(journal)


def _create_ahead(cur: Any, until_ms: int) -> list[str]:
    """Split days off `pfuture` until the last day ends at `until_ms` (one ALTER)."""
    bounds = [b for _, b in partitions(cur) if b is not None]
    last = max(bounds)
    new = []
    while last < until_ms:
        new.append((partition_name(last), last + DAY_MS))
        last += DAY_MS
    if not new:
        return []
    days = ", ".join(f"PARTITION {n} VALUES LESS THAN ({b})" for n, b in new)
    cur.execute(
        f"ALTER TABLE messages REORGANIZE PARTITION {FUTURE} INTO"
        f" ({days}, PARTITION {FUTURE} VALUES LESS THAN MAXVALUE)"
    )
    return [n for n, _ in new]


def _drop_before(cur: Any, before_ms: int) -> dict[str, int]:
    dropped = {}
    for name, bound in partitions(cur):
        if bound is None or bound > before_ms:
            break
        dropped[name] = _drop(cur, name)
    return dropped


def _drop(cur: Any, name: str) -> int:
    """Count, journal, drop, take the rows off the summary: nothing can insert
    into the partition between the count and the drop (LOCK TABLES)."""
    cur.execute("LOCK TABLES messages WRITE, message_stats WRITE")
    try:
        cur.execute(f"SELECT COUNT(*) FROM messages PARTITION ({name})")  # noqa: S608 (our names)
        rows = int(cur.fetchone()[0])
        cur.execute(
            "UPDATE message_stats SET drop_partition = %s, drop_rows = %s WHERE id = %s",
            (name, rows, STATS_ROW_ID),
        )
        cur.execute(f"ALTER TABLE messages DROP PARTITION {name}")
        cur.execute(
            "UPDATE message_stats SET row_count = row_count - %s,"
            " drop_partition = NULL, drop_rows = NULL WHERE id = %s",
            (rows, STATS_ROW_ID),
        )
    finally:
        cur.execute("UNLOCK TABLES")
    log.info("retention: dropped partition %s (%s rows)", name, rows)
    return rows
