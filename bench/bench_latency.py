"""Benchmark 4: POST -> stored latency at a paced 5,000 messages/s.

loadgen.py offers the rate to real producer + consumer processes for ~10 s.
Per message, latency = messages.stored_ms - messages.enqueued_ms (both
stamped on this host's clock: the producer at enqueue, the consumer as it
writes the batch). The reference: the naive async producer (LPUSH) and the
naive BRPOP / one-INSERT consumer under the same offered load; it falls
behind, so its backlog when the load stops is reported, then it is given a
bounded time to catch up and its latency is taken over what it stored.
"""

from __future__ import annotations

import time

from common import (
    BENCH,
    PY,
    Proc,
    countq_env,
    database,
    db_name,
    fmt,
    log,
    median,
    mysql,
    parser,
    percentile,
    processes,
    redis_client,
    redis_queue,
    save,
    start_countq,
    start_naive_http,
    table,
    verdict,
)
from loadgen import paced

TARGET_P99_MS = 250.0


def latencies(db: str, table_name: str) -> list[float]:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute(f"SELECT stored_ms - enqueued_ms FROM {table_name}")  # noqa: S608
        out = [float(row[0]) for row in cur.fetchall()]
    conn.close()
    return out


def truncate(db: str, table_name: str) -> None:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE TABLE {table_name}")
    conn.close()


def wait_drained(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def one_run(
    name: str, port: int, db: str, table_name: str, backlog: object, args: object
) -> dict[str, float]:
    truncate(db, table_name)
    load = paced(port, args.rate, args.seconds, args.connections)  # type: ignore[attr-defined]
    left = backlog()  # type: ignore[operator]
    drained = wait_drained(lambda: backlog() == 0, args.drain_timeout)  # type: ignore[attr-defined,operator]
    time.sleep(0.2)  # the last batch's commit
    lat = latencies(db, table_name)
    figures = {
        "achieved_per_s": load.rate,
        "failed": float(load.failed),
        "stored": float(len(lat)),
        "backlog_at_end": float(left),
        "drained": float(drained),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else float("nan"),
        "http_p99_ms": percentile(load.latencies_ms, 99),
    }
    log(
        f"{name}: {load.rate:,.0f}/s achieved ({load.failed} failed), p50 "
        f"{figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, backlog at end {left:,}"
        + ("" if drained else f", NOT drained after {args.drain_timeout} s")  # type: ignore[attr-defined]
    )
    return figures


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rate", type=float, default=5000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--drain-timeout", type=float, default=30, help="seconds to wait for catch-up")
    args = p.parse_args()
    results: dict[str, list[dict[str, float]]] = {"countq": [], "naive": []}
    r = redis_client()
    with database("latency") as db_url, redis_queue("latency") as queue, processes() as started:
        db = db_name(db_url)
        stream = f"{{{queue}}}:stream"
        _, countq_port = start_countq(started, "producer", db_url, queue)
        start_countq(started, "consumer", db_url, queue)
        _, naive_port = start_naive_http(started, "app_async", db_url, queue)
        naive = Proc("naive-consumer", [PY, str(BENCH / "naive_consumer.py")],
                     countq_env(db_url, queue, 0))  # fmt: skip
        started.append(naive)

        def countq_backlog() -> int:
            return int(r.xlen(stream))

        def naive_backlog() -> int:
            return int(r.llen(f"{queue}:list"))

        paced(countq_port, args.rate, 1, args.connections)  # warm-up
        paced(naive_port, args.rate, 1, args.connections)
        wait_drained(lambda: countq_backlog() == 0 and naive_backlog() == 0, 60)
        for i in range(args.runs):
            results["countq"].append(
                one_run(f"countq run {i + 1}", countq_port, db, "messages", countq_backlog, args)
            )
            results["naive"].append(
                one_run(f"naive run {i + 1}", naive_port, db, "naive_messages", naive_backlog, args)
            )
            r.delete(f"{queue}:list")  # what the naive consumer could not catch up on
    r.close()
    med = {
        name: {k: median([run[k] for run in runs]) for k in runs[0]}
        for name, runs in results.items()
    }
    rows = [
        [
            name,
            fmt(f["achieved_per_s"], "/s"),
            fmt(f["p50_ms"], "ms"),
            fmt(f["p99_ms"], "ms"),
            fmt(f["backlog_at_end"]),
            "yes" if min(run["drained"] for run in results[name]) else "no",
        ]
        for name, f in med.items()
    ]
    table(
        f"POST -> stored latency at {args.rate:,.0f}/s offered for {args.seconds:.0f} s, "
        f"median of {args.runs} runs (target p99 <= {TARGET_P99_MS:.0f} ms)",
        ["", "achieved", "p50", "p99", "backlog at end", "caught up"],
        rows,
    )
    c, n = med["countq"], med["naive"]
    print(
        f"  countq p99 {fmt(c['p99_ms'], 'ms')}: {verdict(c['p99_ms'] <= TARGET_P99_MS)}; "
        f"naive p99 / countq p99 = {n['p99_ms'] / c['p99_ms']:.0f}x"
    )
    save(args.json, "latency", med)


if __name__ == "__main__":
    main()
