"""Benchmark 3: GET /count latency with 10,000 and with 10,000,000 stored rows.

One database is filled once (MariaDB's sequence engine) to 10 k rows, measured,
then grown to 10 M and measured again. Sequential keep-alive requests; p50 and
p99 per run, medians over runs. The reference answers the same endpoint shape
with SELECT COUNT(*) (the naive app, over HTTP), and the bare query is timed too.
"""

from __future__ import annotations

import http.client
import time

from common import (
    database,
    db_name,
    fmt,
    log,
    median,
    mysql,
    parser,
    percentile,
    processes,
    redis_queue,
    save,
    start_countq,
    start_naive_http,
    table,
    verdict,
)

TARGET_P50_MS = 2.0
TARGET_GROWTH = 1.5
FILL_CHUNK = 1_000_000


def fill(db: str, start: int, end: int) -> None:
    """Rows start+1..end, then the summary row to match (as the consumer keeps it)."""
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("SET SESSION unique_checks = 0")  # ids below are unique by construction
        for lo in range(start + 1, end + 1, FILL_CHUNK):
            hi = min(lo + FILL_CHUNK - 1, end)
            # Integers only: the sequence engine names its table by range.
            sql = f"INSERT INTO messages (message_id, count, enqueued_ms, stored_ms) SELECT UNHEX(LPAD(HEX(seq), 32, '0')), seq, 0, 0 FROM seq_{lo:d}_to_{hi:d}"  # noqa: S608, E501
            cur.execute(sql)
        cur.execute(
            "UPDATE message_stats SET row_count = %s, last_value = %s,"
            " last_id = UNHEX(LPAD(HEX(%s), 32, '0')), updated_ms = %s WHERE id = 1",
            (end, end, end, time.time_ns() // 1_000_000),
        )
    conn.close()


def size_label(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000} M"
    if rows >= 1000 and rows % 1000 == 0:
        return f"{rows // 1000} k"
    return f"{rows:,}"


def get_latencies(port: int, n: int) -> list[float]:
    """n sequential GET /count on one keep-alive connection, in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", "/count")
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - t0) * 1000)
        if response.status != 200:
            raise RuntimeError(f"GET /count answered {response.status}")
    conn.close()
    return out


def query_ms(db: str, n: int) -> list[float]:
    conn = mysql(db)
    out = []
    with conn.cursor() as cur:
        for _ in range(n):
            t0 = time.perf_counter()
            cur.execute("SELECT COUNT(*) FROM messages")
            cur.fetchall()
            out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return out


def measure(
    label: str, large: bool, countq_port: int, naive_port: int, db: str, args: object
) -> dict[str, float]:
    runs, requests = args.runs, args.requests  # type: ignore[attr-defined]
    naive_requests = args.naive_requests if large else 200  # type: ignore[attr-defined]
    get_latencies(countq_port, 200)  # warm-up
    get_latencies(naive_port, 2)
    c50, c99, n50, n99 = [], [], [], []
    for i in range(runs):
        lat = get_latencies(countq_port, requests)
        c50.append(percentile(lat, 50))
        c99.append(percentile(lat, 99))
        naive = get_latencies(naive_port, naive_requests)
        n50.append(percentile(naive, 50))
        n99.append(percentile(naive, 99))
        log(
            f"{label} run {i + 1}: countq p50 {c50[-1]:.2f} ms p99 {c99[-1]:.2f} ms; "
            f"naive p50 {n50[-1]:.1f} ms ({naive_requests} requests)"
        )
    direct = query_ms(db, max(3, naive_requests))
    return {
        "countq_p50_ms": median(c50),
        "countq_p99_ms": median(c99),
        "naive_p50_ms": median(n50),
        "naive_p99_ms": median(n99),
        "count_query_ms": median(direct),
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--requests", type=int, default=2000, help="countq requests per run")
    p.add_argument("--naive-requests", type=int, default=5, help="naive requests per run, large")
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--large", type=int, default=10_000_000)
    args = p.parse_args()
    figures: dict[str, dict[str, float]] = {}
    with database("get") as db_url, redis_queue("get") as queue, processes() as started:
        db = db_name(db_url)
        _, countq_port = start_countq(started, "producer", db_url, queue)
        _, naive_port = start_naive_http(started, "app", db_url, queue)
        have = 0
        for rows in (args.small, args.large):
            t0 = time.perf_counter()
            fill(db, have, rows)  # the large table grows from the small one
            have = rows
            log(f"filled {rows:,} rows in {time.perf_counter() - t0:.0f} s")
            label = size_label(rows)
            large = rows == args.large
            figures[label] = measure(label, large, countq_port, naive_port, db, args)
    small, large = figures.values()
    growth = large["countq_p50_ms"] / small["countq_p50_ms"]
    rows_out = [
        [
            label,
            fmt(f["countq_p50_ms"], "ms"),
            fmt(f["countq_p99_ms"], "ms"),
            fmt(f["naive_p50_ms"], "ms"),
            fmt(f["count_query_ms"], "ms"),
            f"{f['naive_p50_ms'] / f['countq_p50_ms']:.0f}x",
        ]
        for label, f in figures.items()
    ]
    table(
        f"GET /count, sequential keep-alive, median of {args.runs} runs "
        f"({args.requests} requests each; naive {args.naive_requests} at "
        f"{size_label(args.large)}, 200 at {size_label(args.small)})",
        ["rows", "countq p50", "countq p99", "naive p50", "COUNT(*) alone", "ratio"],
        rows_out,
    )
    ok = large["countq_p50_ms"] <= TARGET_P50_MS and growth <= TARGET_GROWTH
    print(
        f"  countq p50 at {size_label(args.large)} / at {size_label(args.small)} = {growth:.2f}x "
        f"(target p50 <= {TARGET_P50_MS} ms and <= {TARGET_GROWTH}x): {verdict(ok)}"
    )
    figures["growth"] = {"countq_p50_ratio": growth}
    save(args.json, "get", figures)


if __name__ == "__main__":
    main()
