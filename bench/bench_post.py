"""Benchmark 1: POST /count throughput and p99 latency at 50 connections (wrk).

Three servers run side by side with the same WEB_CONCURRENCY under the same
uvicorn settings: countq's producer, the stack's ceiling (bench/ceiling_app.py:
an `async def` POST that only reads the body and answers 202) and the naive
producer (a typical first version). Their wrk runs alternate so drift on the
shared machine hits all alike. Between runs the queues are emptied (nothing
consumes them here). The target is relative to the ceiling, which is what
this machine and this framework can do at all.

`--wait-replicas N` measures instead what REDIS_WAIT_REPLICAS=N costs: a private
redis-server primary with N replicas (free ports, no persistence), one countq
producer with the switch off and one with it on, their wrk runs alternating.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import redis
from common import (
    database,
    fmt,
    medians,
    parser,
    primary_with_replicas,
    processes,
    redis_client,
    redis_queue,
    save,
    start_countq,
    start_naive_http,
    start_reference_http,
    table,
    verdict,
    wrk_rounds,
)

TARGET_CEILING_RATIO = 0.7
TARGET_P99_MS = 25.0
SERVERS = ("countq", "ceiling", "naive")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=int, default=10, help="length of one wrk run")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="WEB_CONCURRENCY values")
    p.add_argument(
        "--wait-replicas",
        type=int,
        default=0,
        help="measure REDIS_WAIT_REPLICAS=N against 0 on a private primary with N replicas",
    )
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run scripts/bench-tools.sh")
    if args.wait_replicas:
        wait_cost(args.wait_replicas, args.runs, args.seconds, args.connections, args.json)
        return
    figures: dict[str, dict[str, float]] = {}
    rows = []
    r = redis_client()
    with database("post") as db_url, redis_queue("post") as queue, processes() as started:
        for workers in args.workers:
            countq, countq_port = start_countq(
                started, "producer", db_url, queue, WEB_CONCURRENCY=workers
            )
            naive, naive_port = start_naive_http(started, "app", db_url, queue, workers)
            ceiling, ceiling_port = start_reference_http(
                started, "ceiling_app:app", db_url, queue, workers
            )
            servers = (
                ("countq", countq_port, countq.popen.pid),
                ("ceiling", ceiling_port, ceiling.popen.pid),
                ("naive", naive_port, naive.popen.pid),
            )
            runs = wrk_rounds(
                servers,
                lambda _: r.delete(f"{{{queue}}}:stream", f"{queue}:list"),
                args.runs,
                args.seconds,
                args.connections,
                f"WEB_CONCURRENCY={workers}",
            )
            for proc in (countq, ceiling, naive):
                proc.stop()
                started.remove(proc)
            med = medians(runs)
            f = {f"{name}_{k}": v for name in SERVERS for k, v in med[name].items()}
            f["countq_failed"] = max(run["failed"] for run in runs["countq"])
            f["ratio_to_ceiling"] = med["countq"]["rps"] / med["ceiling"]["rps"]
            f["ratio_to_naive"] = med["countq"]["rps"] / med["naive"]["rps"]
            figures[f"workers_{workers}"] = f
            ok = (
                f["ratio_to_ceiling"] >= TARGET_CEILING_RATIO
                and f["countq_p99_ms"] <= TARGET_P99_MS
            )
            rows.append(
                [
                    str(workers),
                    fmt(f["countq_rps"]),
                    fmt(f["countq_p99_ms"], "ms"),
                    fmt(f["ceiling_rps"]),
                    fmt(f["ceiling_p99_ms"], "ms"),
                    f"{f['ratio_to_ceiling']:.2f}x",
                    fmt(f["naive_rps"]),
                    f"{f['ratio_to_naive']:.1f}x",
                    " / ".join(f"{f[f'{name}_cpu_us']:.0f}" for name in SERVERS) + " us",
                    " / ".join(f"{f[f'{name}_redis_cpu_us']:.0f}" for name in SERVERS) + " us",
                    verdict(ok),
                ]
            )
    r.close()
    table(
        f"POST /count, wrk -t2 -c{args.connections} -d{args.seconds}s, "
        f"median of {args.runs} runs (target >= {TARGET_CEILING_RATIO}x the ceiling's "
        f"req/s, p99 <= {TARGET_P99_MS} ms)",
        [
            "workers",
            "countq req/s",
            "countq p99",
            "ceiling req/s",
            "ceiling p99",
            "to ceiling",
            "naive req/s",
            "to naive",
            "server CPU/req countq / ceiling / naive",
            "Redis CPU/req",
            "target",
        ],
        rows,
    )
    save(args.json, "post", figures)


def wait_cost(replicas: int, runs: int, seconds: int, connections: int, out: Path | None) -> None:
    with (
        database("wait") as db_url,
        primary_with_replicas(replicas) as url,
        processes() as started,
    ):
        r = redis.Redis.from_url(url)
        servers = []
        for name, n in (("off", 0), ("on", replicas)):
            proc, port = start_countq(
                started, "producer", db_url, f"wait-{name}", REDIS_URL=url, REDIS_WAIT_REPLICAS=n
            )
            servers.append((name, port, proc.popen.pid))
        results = wrk_rounds(
            servers,
            lambda name: r.delete(f"{{wait-{name}}}:stream"),
            runs,
            seconds,
            connections,
            f"REDIS_WAIT_REPLICAS={replicas}",
        )
    med = medians(results)
    table(
        f"POST /count, REDIS_WAIT_REPLICAS={replicas} vs 0, wrk -t2 -c{connections} "
        f"-d{seconds}s, median of {runs} alternating runs",
        ["REDIS_WAIT_REPLICAS", "req/s", "p50", "p99", "failed (max)"],
        [
            [
                str(replicas if name == "on" else 0),
                fmt(m["rps"]),
                fmt(m["p50_ms"], "ms"),
                fmt(m["p99_ms"], "ms"),
                str(int(max(run["failed"] for run in results[name]))),
            ]
            for name, m in med.items()
        ],
    )
    save(out, "post_wait", {name: dict(m) for name, m in med.items()})


if __name__ == "__main__":
    main()
