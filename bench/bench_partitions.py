"""QUEUE_PARTITIONS on a 3-primary Redis Cluster: each primary's Redis CPU at the
same offered load, with the queue in one partition (N=1) and in three (N=3).

One hash tag lives in one slot, so with N=1 one primary carries the whole
queue's enqueue, read and ack. With N=3 the partitions' tags fall in slots
16384/3 apart (countq.queue.keys.partition_tag), one on each primary of a
cluster made with `redis-cli --cluster create` (equal slot ranges), so each
primary should carry about a third of what the single owner did.

Per run: a fresh queue on the same cluster, a real `countq producer` and
`countq consumer` (REDIS_CLUSTER=true), a paced POST load of --rate for
--seconds, then until the consumer stored everything; each primary's CPU
is INFO cpu (used_cpu_sys + used_cpu_user) after less before, over exactly
that window. The N=1 and N=3 runs alternate (--runs each, medians), so drift
on the shared machine hits both alike. 2 cores cannot show a throughput
gain: the figure is per-primary load, not a total.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
from common import ROOT, database, log, parser, processes, save, start_countq, table, verdict
from loadgen import paced

# The cluster harness the failover tests use: one harness, not two.
sys.path.insert(0, str(ROOT))
from tests.helpers.redis_cluster import RedisClusterProcs

# "About a third": the busiest primary with N=3 against the single owner with N=1.
TARGET_RATIO = 0.45
PARTITIONS = (1, 3)


def redis_cpu_s(port: int) -> float:
    info = redis.Redis(port=port).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def redis_calls(port: int) -> float:
    """Commands served so far (INFO commandstats): the load's spread, whatever the
    machine's other work does to the CPU each command costs."""
    stats = redis.Redis(port=port).info("commandstats")
    return float(sum(int(v["calls"]) for v in stats.values()))


def stored(db_url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = int(conn.execute(sa.text("SELECT COUNT(*) FROM messages")).scalar_one())
    engine.dispose()
    return rows


def one_run(
    cluster: RedisClusterProcs, partitions: int, rate: float, seconds: float, tag: str
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds and commands per primary (by port) over one run's load and drain."""
    queue = f"bench-{tag}-n{partitions}"
    extra = {"REDIS_CLUSTER": "true", "QUEUE_PARTITIONS": partitions, "REDIS_URL": cluster.url}
    with database(f"part{partitions}") as db_url, processes() as started:
        _producer, producer_port = start_countq(started, "producer", db_url, queue, **extra)
        start_countq(started, "consumer", db_url, queue, **extra)
        paced(producer_port, rate, 1.0)  # warm-up: connections, scripts, groups
        deadline = time.monotonic() + 60
        while stored(db_url) < int(rate * 1.0) * 0.99 and time.monotonic() < deadline:
            time.sleep(0.2)
        before = {port: redis_cpu_s(port) for port in cluster.primary_ports()}
        calls_before = {port: redis_calls(port) for port in cluster.primary_ports()}
        warm = stored(db_url)
        result = paced(producer_port, rate, seconds)
        deadline = time.monotonic() + 120
        while stored(db_url) < warm + result.ok and time.monotonic() < deadline:
            time.sleep(0.1)
        after = {port: redis_cpu_s(port) for port in cluster.primary_ports()}
        calls = {str(p): redis_calls(p) - calls_before[p] for p in cluster.primary_ports()}
        if stored(db_url) < warm + result.ok:
            raise RuntimeError(f"N={partitions}: the consumer did not store every message")
        log(
            f"N={partitions}: {result.ok} accepted at {result.rate:,.0f}/s, {result.failed} refused"
        )
    return {str(port): after[port] - before[port] for port in before}, calls


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rate", type=float, default=1500, help="POSTs offered per second")
    p.add_argument("--seconds", type=float, default=10, help="seconds of load per run")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="countq-bench-cluster-"))
    cluster = RedisClusterProcs(root).start()
    cpu: dict[int, list[dict[str, float]]] = {n: [] for n in PARTITIONS}
    calls: dict[int, list[dict[str, float]]] = {n: [] for n in PARTITIONS}
    try:
        for run in range(args.runs):
            for n in PARTITIONS:
                run_cpu, run_calls = one_run(cluster, n, args.rate, args.seconds, f"{run}")
                cpu[n].append(run_cpu)
                calls[n].append(run_calls)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    ports = [str(port) for port in cluster.ports]
    median_cpu = {
        n: {port: statistics.median(r[port] for r in cpu[n]) for port in ports} for n in PARTITIONS
    }
    median_calls = {
        n: {port: statistics.median(r[port] for r in calls[n]) for port in ports}
        for n in PARTITIONS
    }
    calls_ratio = max(median_calls[3].values()) / max(median_calls[1].values())
    owner = max(median_cpu[1].values())
    busiest = max(median_cpu[3].values())
    ratio = busiest / owner if owner else float("nan")
    messages = args.rate * args.seconds
    rows = [
        [f"primary :{port}"]
        + [
            f"{median_cpu[n][port]:.2f} s ({median_cpu[n][port] / messages * 1e6:.0f} µs/msg)"
            for n in PARTITIONS
        ]
        + [f"{median_cpu[3][port] / owner:.2f}" if owner else "-"]
        for port in ports
    ]
    table(
        f"Redis CPU per primary, {args.rate:.0f} POST/s for {args.seconds:.0f} s"
        f" (median of {args.runs})",
        ["", "N=1", "N=3", "N=3 / N=1's owner"],
        rows,
    )
    table(
        "Redis commands per primary (INFO commandstats)",
        ["", "N=1", "N=3"],
        [
            [f"primary :{port}", *(f"{median_calls[n][port]:,.0f}" for n in PARTITIONS)]
            for port in ports
        ],
    )
    print(f"commands, busiest primary with N=3 / the owner with N=1: {calls_ratio:.2f}")
    total = sum(median_cpu[3].values()) / sum(median_cpu[1].values())
    print(f"all primaries with N=3 / with N=1: {total:.2f} (what partitioning costs in all)")
    print(
        f"busiest primary with N=3 / the owner with N=1: {ratio:.2f} "
        f"(target <= {TARGET_RATIO}) {verdict(ratio <= TARGET_RATIO)}"
    )
    save(
        args.json,
        "partitions",
        {
            "rate": args.rate,
            "seconds": args.seconds,
            "cpu_s_per_primary": {str(n): median_cpu[n] for n in PARTITIONS},
            "busiest_ratio": round(ratio, 3),
            "calls_per_primary": {str(n): median_calls[n] for n in PARTITIONS},
            "busiest_calls_ratio": round(calls_ratio, 3),
            "total_ratio": round(total, 3),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
