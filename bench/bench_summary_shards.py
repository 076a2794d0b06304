"""Benchmark: do consumers still queue on one summary row? SUMMARY_SHARDS 1 vs 4.

Each consumer's transaction inserts its batch, then adds to its summary row,
and holds that row's lock until the commit (an fsync here:
innodb_flush_log_at_trx_commit = 1). With one row, a second consumer's
UPDATE waits for the first one's commit; with a row each, it does not.

1, 2 and 4 processes run the consumer's commit pattern (repo.store_batch in
one transaction, batches of fresh messages, no Redis: only the database part
is measured) for a fixed time against MariaDB, first with every consumer on
one row (S = 1), then with S shards, names picked so each consumer has a row
of its own (with hashed names two may share one; docs/performance/capacity.md).
Printed per case: commits/s, commit latency p50/p99 (the whole transaction,
as the consumer waits for it), the time the summary UPDATE waited (measured
by each client: its statement blocks while another transaction holds the
row), the server's Innodb_row_lock_waits / Innodb_row_lock_time deltas and
the mariadbd process's CPU per commit (server-wide: other work on the same
server counts too; with one consumer it is the capacity model's MariaDB cost
per batch, docs/performance/capacity.md). Ratios are to the
S = 1 case with the same number of consumers, in the same invocation.

2 cores cannot show throughput growing with consumers; the lock waits and the
latency are what the shards change.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import (
    cpu_seconds,
    database,
    fmt,
    log,
    median,
    mysql,
    parser,
    percentile,
    save,
    table,
)

from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.messages import Message, uuid7

BASELINE_SHARDS = 1


def names_on_distinct_shards(consumers: int, shards: int) -> list[str]:
    """Consumer names whose hashed rows differ (as far as `shards` allows)."""
    names: list[str] = []
    taken: set[int] = set()
    for i in range(10_000):
        name = f"bench-consumer-{i}"
        shard = repo.summary_shard(name, shards)
        if shard not in taken or len(taken) == shards:
            names.append(name)
            taken.add(shard)
        if len(names) == consumers:
            return names
    raise RuntimeError("no names found")


def consume(
    url: str, name: str, shards: int, batch: int, seconds: float, start: Barrier, out: Any
) -> None:
    """One consumer's commit pattern for `seconds`; its latencies go to `out`."""
    engine = create_engine(Settings(database_url=url), pool_size=1)
    shard = repo.summary_shard(name, shards)
    update_waits: list[float] = []
    started: dict[str, float] = {}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(*args: Any) -> None:
        started["at"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE message_stats"):
            update_waits.append(time.perf_counter() - started["at"])

    commits: list[float] = []
    count = 0
    with engine.begin() as conn:  # the row exists before the clock runs
        repo.store_batch(conn, [Message("0-0", uuid7().bytes, 0, 0)], shard)
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        now_ms = time.time_ns() // 1_000_000
        messages = []
        for _ in range(batch):
            count += 1
            messages.append(Message("0-0", uuid7().bytes, count, now_ms))
        t0 = time.perf_counter()
        with engine.begin() as conn:
            repo.store_batch(conn, messages, shard)
        commits.append(time.perf_counter() - t0)
    engine.dispose()
    out.put({"shard": shard, "commits": commits, "update_waits": update_waits[1:]})


def server_pid() -> int:
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute("SELECT @@pid_file")
        (pid_file,) = cur.fetchone()  # type: ignore[misc]
    conn.close()
    return int(Path(pid_file).read_text().split()[0])


def row_lock_status() -> dict[str, int]:
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits',"
                    " 'Innodb_row_lock_time')")  # fmt: skip
        status = {str(k): int(v) for k, v in cur.fetchall()}
    conn.close()
    return status


def one_case(url: str, consumers: int, shards: int, batch: int, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # no inherited connections
    out = ctx.Queue()
    start = ctx.Barrier(consumers + 1)
    names = names_on_distinct_shards(consumers, shards)
    procs = [
        ctx.Process(target=consume, args=(url, n, shards, batch, seconds, start, out))
        for n in names
    ]
    for p in procs:
        p.start()
    start.wait()
    before, cpu0 = row_lock_status(), cpu_seconds(server_pid())
    reports = [out.get(timeout=seconds + 120) for _ in procs]
    after, cpu1 = row_lock_status(), cpu_seconds(server_pid())
    for p in procs:
        p.join()
    commits = [c for r in reports for c in r["commits"]]
    waits = [w for r in reports for w in r["update_waits"]]
    return {
        "rows_used": len({r["shard"] for r in reports}),
        "commits_per_s": len(commits) / seconds,
        "commit_p50_ms": percentile(commits, 50) * 1000,
        "commit_p99_ms": percentile(commits, 99) * 1000,
        "update_p50_ms": percentile(waits, 50) * 1000,
        "update_p99_ms": percentile(waits, 99) * 1000,
        "update_wait_share": sum(waits) / sum(commits),
        "server_row_lock_waits": after["Innodb_row_lock_waits"] - before["Innodb_row_lock_waits"],
        "server_row_lock_time_ms": after["Innodb_row_lock_time"] - before["Innodb_row_lock_time"],
        "server_cpu_ms_per_commit": (cpu1 - cpu0) / len(commits) * 1000,
    }


FIGURES = (
    "commits_per_s",
    "commit_p50_ms",
    "commit_p99_ms",
    "update_p50_ms",
    "update_p99_ms",
    "update_wait_share",
    "server_row_lock_waits",
    "server_row_lock_time_ms",
    "server_cpu_ms_per_commit",
)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--consumers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--shards", type=int, default=4, help="S compared with S = 1")
    p.add_argument("--batch", type=int, default=1000, help="messages per transaction")
    p.add_argument("--seconds", type=float, default=5, help="length of one case")
    p.add_argument("--quick", action="store_true", help="one run of 2 s per case")
    args = p.parse_args()
    runs, seconds = (1, 2.0) if args.quick else (args.runs, args.seconds)
    figures: dict[str, Any] = {"batch": args.batch, "seconds": seconds, "shards": args.shards}
    rows = []
    with database("shards") as url:
        for consumers in args.consumers:
            per: dict[int, list[dict[str, Any]]] = {BASELINE_SHARDS: [], args.shards: []}
            for run in range(runs):
                for shards in per:  # interleaved, so both see the same machine
                    log(f"run {run + 1}/{runs}: {consumers} consumers, S = {shards}")
                    per[shards].append(one_case(url, consumers, shards, args.batch, seconds))
            case = {
                f"s{shards}": {
                    "rows_used": results[0]["rows_used"],
                    **{k: median([r[k] for r in results]) for k in FIGURES},
                }
                for shards, results in per.items()
            }
            base, sharded = case[f"s{BASELINE_SHARDS}"], case[f"s{args.shards}"]
            case["ratio"] = {
                k: sharded[k] / base[k] if base[k] else float("nan")
                for k in ("commits_per_s", "commit_p50_ms", "commit_p99_ms", "update_p99_ms")
            }
            figures[f"consumers{consumers}"] = case
            for shards in per:
                f = case[f"s{shards}"]
                rows.append(
                    [
                        str(consumers),
                        f"{shards} ({f['rows_used']} used)",
                        fmt(f["commits_per_s"]),
                        f"{fmt(f['commit_p50_ms'])} / {fmt(f['commit_p99_ms'])} ms",
                        f"{fmt(f['update_p50_ms'])} / {fmt(f['update_p99_ms'])} ms",
                        f"{f['update_wait_share']:.0%}",
                        f"{f['server_row_lock_waits']:.0f} ({f['server_row_lock_time_ms']:.0f} ms)",
                    ]
                )
            r = case["ratio"]
            rows.append(
                [
                    "",
                    f"S={args.shards} / S=1",
                    f"{r['commits_per_s']:.2f}x",
                    f"{r['commit_p50_ms']:.2f}x / {r['commit_p99_ms']:.2f}x",
                    f"p99 {r['update_p99_ms']:.2f}x",
                    "",
                    "",
                ]
            )
    table(
        f"Summary shards: batch {args.batch}, {seconds:g} s per case, medians of {runs} runs",
        [
            "consumers",
            "S",
            "commits/s",
            "commit p50 / p99",
            "summary UPDATE p50 / p99",
            "UPDATE share of commit",
            "server row lock waits",
        ],
        rows,
    )
    save(args.json, "summary_shards", figures)


if __name__ == "__main__":
    main()
