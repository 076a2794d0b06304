"""Benchmark 5: RETENTION_DAYS, a one-day partition drop against a DELETE of the same rows.

A migrated (partitioned) database gets N rows enqueued today and N/10 rows
tomorrow (so the table is not only the day that goes). Then, per run, on a
fresh fill:

- drop: the maintenance step as it runs in production
  (countq.db.retention.maintain with the clock two days on and
  RETENTION_DAYS=1): LOCK TABLES, COUNT(*) of the partition, DROP PARTITION,
  summary update. The bare DROP PARTITION is timed inside it too;
- delete: `DELETE FROM messages WHERE enqueued_ms < <end of today>` in one
  statement (what a table without partitions needs), autocommit.

Medians of --runs. Loading 10 million rows takes about a minute here.
"""

from __future__ import annotations

import time
from typing import Any

from common import database, db_name, fmt, log, median, mysql, parser, save, table

from countq.config import Settings
from countq.db import retention
from countq.db.engine import create_engine
from countq.db.retention import DAY_MS, day_start

FILL_CHUNK = 1_000_000


def fill(db: str, rows: int, day_ms: int, start: int = 0) -> None:
    """Rows start+1..start+rows enqueued within the day at day_ms; the summary to match."""
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("SET SESSION unique_checks = 0")  # ids below are unique by construction
        for lo in range(start + 1, start + rows + 1, FILL_CHUNK):
            hi = min(lo + FILL_CHUNK - 1, start + rows)
            cur.execute(
                "INSERT INTO messages (message_id, count, enqueued_ms, stored_ms)"  # noqa: S608
                f" SELECT UNHEX(LPAD(HEX(seq), 32, '0')), seq, {day_ms} + seq % {DAY_MS}, 0"
                f" FROM seq_{lo:d}_to_{hi:d}"
            )
        cur.execute(
            "UPDATE message_stats SET row_count = row_count + %s,"
            " stored_total = stored_total + %s WHERE id = 1",
            (rows, rows),
        )
    conn.close()


def reset(db: str, rows: int, today: int) -> None:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE TABLE messages")
        cur.execute("UPDATE message_stats SET row_count = 0, stored_total = 0")
    conn.close()
    fill(db, rows, today)
    fill(db, rows // 10, today + DAY_MS, start=rows)


def time_drop(url: str, now_ms: int) -> tuple[float, float, int]:
    """(whole maintenance step, bare DROP PARTITION inside it, rows dropped)."""
    engine = create_engine(Settings(database_url=url), pool_size=1)
    drops: list[float] = []
    original = retention._drop

    def timed_drop(cur: Any, name: str) -> int:
        real_execute = cur.execute

        def execute(sql: str, *args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real_execute(sql, *args)
            finally:
                if sql.startswith("ALTER TABLE messages DROP PARTITION"):
                    drops.append(time.perf_counter() - t0)

        cur.execute = execute
        try:
            return original(cur, name)
        finally:
            cur.execute = real_execute

    retention._drop = timed_drop
    try:
        t0 = time.perf_counter()
        done = retention.maintain(engine, 1, now_ms + 2 * DAY_MS)
        whole = time.perf_counter() - t0
    finally:
        retention._drop = original
        engine.dispose()
    return whole, sum(drops), done.deleted


def time_delete(db: str, before_ms: int) -> tuple[float, int]:
    conn = mysql(db)
    with conn.cursor() as cur:
        t0 = time.perf_counter()
        deleted = cur.execute(f"DELETE FROM messages WHERE enqueued_ms < {before_ms}")  # noqa: S608
        elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed, int(deleted)


def check_summary(db: str) -> None:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM messages")
        (count,) = cur.fetchone()
        cur.execute("SELECT row_count FROM message_stats")
        (summary,) = cur.fetchone()
    conn.close()
    if count != summary:
        raise RuntimeError(f"summary {summary} != COUNT(*) {count} after the drop")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=10_000_000, help="rows in the day that goes")
    args = p.parse_args()
    now_ms = time.time_ns() // 1_000_000
    today = day_start(now_ms)
    wholes, drops, deletes = [], [], []
    with database("retention") as url:
        db = db_name(url)
        for run in range(args.runs):
            log(f"run {run + 1}: loading {args.rows:,} + {args.rows // 10:,} rows")
            reset(db, args.rows, today)
            whole, drop, dropped = time_drop(url, now_ms)
            check_summary(db)
            if dropped != args.rows:
                raise RuntimeError(f"dropped {dropped} rows, expected {args.rows}")
            wholes.append(whole)
            drops.append(drop)
            log(f"run {run + 1}: maintenance {whole:.3f} s (DROP PARTITION {drop:.3f} s)")
            # The same rows again, in a table whose partitions are intact (a fresh fill).
            with mysql() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE `{db}`")
                cur.execute(f"CREATE DATABASE `{db}`")
            _migrate(url)
            reset(db, args.rows, today)
            elapsed, deleted = time_delete(db, today + DAY_MS)
            if deleted != args.rows:
                raise RuntimeError(f"deleted {deleted} rows, expected {args.rows}")
            deletes.append(elapsed)
            log(f"run {run + 1}: DELETE {elapsed:.3f} s")
            with mysql() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE `{db}`")
                cur.execute(f"CREATE DATABASE `{db}`")
            _migrate(url)
    figures = {
        "rows": args.rows,
        "runs": args.runs,
        "maintenance_step_s": median(wholes),
        "drop_partition_s": median(drops),
        "delete_s": median(deletes),
    }
    table(
        f"One day of {args.rows:,} rows, median of {args.runs}",
        ["way", "seconds"],
        [
            ["maintenance step (lock, COUNT(*), DROP PARTITION)", fmt(median(wholes))],
            ["  of which DROP PARTITION", fmt(median(drops))],
            ["DELETE ... WHERE enqueued_ms < end of day", fmt(median(deletes))],
        ],
    )
    save(args.json, "retention", figures)


def _migrate(url: str) -> None:
    from countq.db.migrate import upgrade

    engine = create_engine(Settings(database_url=url), pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
