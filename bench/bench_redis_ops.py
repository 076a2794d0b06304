"""Benchmark: Redis CPU per message for each of enqueue, read and ack.

bench_post.py measures Redis CPU per POST with the producer in front; this
one takes the three things a message costs Redis apart, one at a time, on a
private redis-server (no other client's commands in its figures), through
countq's own queue classes:

- enqueue: ProducerQueue.enqueue, CONCURRENCY calls in flight (as under
  HTTP load: those of one event-loop turn share one script call);
- read: ConsumerQueue.read_new, CONSUMER_BATCH_SIZE entries a call;
- ack: ConsumerQueue.ack, one script call a batch (ack and delete).

For each: the redis-server process's CPU time per message (what a Redis
shard spends), INFO commandstats' usec per message (the time inside the
commands alone), commands per message, and bytes in + out per message
(ElastiCache Serverless bills the larger of vCPU time and data transferred,
docs/performance/capacity.md). The machine's other load inflates CPU time
less than wall-clock rates, but not to zero: the load is recorded beside it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import redis
from common import cpu_seconds, fmt, log, median, parser, primary_with_replicas, save, table

from countq.config import Settings
from countq.queue.consumer import ConsumerQueue
from countq.queue.producer import ProducerQueue

# The command the client sends in each phase. commandstats also counts the
# commands a script runs (XADD inside the enqueue script), and the script's
# own usec includes theirs: only the command sent is counted here.
PHASES = {"enqueue": "eval", "read": "xreadgroup", "ack": "evalsha"}


def snapshot(r: redis.Redis, pid: int) -> dict[str, Any]:
    stats: Any = r.info("commandstats")
    net: Any = r.info("stats")
    return {
        "cpu_s": cpu_seconds(pid),
        "calls": {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()},
        "usec": {k.removeprefix("cmdstat_"): v["usec"] for k, v in stats.items()},
        "bytes": net["total_net_input_bytes"] + net["total_net_output_bytes"],
    }


def delta(before: dict[str, Any], after: dict[str, Any], n: int, sent: str) -> dict[str, Any]:
    """Per message, between two snapshots: the process's CPU, and the command sent."""
    calls = after["calls"].get(sent, 0) - before["calls"].get(sent, 0)
    usec = after["usec"].get(sent, 0) - before["usec"].get(sent, 0)
    ran = [k for k in after["calls"] if k != "info" and after["calls"][k] != before["calls"].get(k)]
    return {
        "redis_cpu_us": (after["cpu_s"] - before["cpu_s"]) / n * 1e6,
        "command_us": usec / n,
        "calls_per_message": calls / n,
        "commands": sorted(ran),
        "bytes_per_message": (after["bytes"] - before["bytes"]) / n,
    }


async def enqueue_all(settings: Settings, n: int, concurrency: int) -> None:
    queue = ProducerQueue(settings)
    await queue.ensure_group()
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await queue.enqueue(left)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await queue.client.aclose()


def one_run(url: str, n: int, concurrency: int, batch: int) -> dict[str, dict[str, Any]]:
    settings = Settings(
        redis_url=url,
        redis_queue=f"ops-{os.getpid()}-{time.monotonic_ns()}",
        max_backlog=n * 2,
        consumer_batch_size=batch,
    )
    r = redis.Redis.from_url(url, decode_responses=True)
    pid = int(r.info("server")["process_id"])
    consumer = ConsumerQueue(settings, "bench-ops")
    figures = {}

    before = snapshot(r, pid)
    asyncio.run(enqueue_all(settings, n, concurrency))
    figures["enqueue"] = delta(before, snapshot(r, pid), n, PHASES["enqueue"])

    before = snapshot(r, pid)
    batches = []
    while sum(len(b) for b in batches) < n:
        batches.append([entry_id for entry_id, _ in consumer.read_new(block_ms=100)])
    figures["read"] = delta(before, snapshot(r, pid), n, PHASES["read"])

    before = snapshot(r, pid)
    for ids in batches:
        consumer.ack(ids)
    figures["ack"] = delta(before, snapshot(r, pid), n, PHASES["ack"])
    if r.xlen(settings.stream_key):
        raise RuntimeError("entries left after every ack")
    r.delete(settings.stream_key)
    consumer.close()
    r.close()
    return figures


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200_000, help="messages per run")
    p.add_argument("--concurrency", type=int, default=50, help="enqueues in flight")
    p.add_argument("--batch", type=int, default=1000, help="CONSUMER_BATCH_SIZE")
    p.add_argument("--quick", action="store_true", help="one run of 50,000 messages")
    args = p.parse_args()
    # CPU time comes in clock ticks (10 ms): enough messages that a phase spans many.
    runs, n = (1, 50_000) if args.quick else (args.runs, args.messages)
    results: dict[str, list[dict[str, Any]]] = {phase: [] for phase in PHASES}
    with primary_with_replicas(0) as url:
        one_run(url, n // 10, args.concurrency, args.batch)  # warm-up, not counted
        for run in range(runs):
            log(f"run {run + 1}/{runs}: {n:,} messages")
            for phase, f in one_run(url, n, args.concurrency, args.batch).items():
                results[phase].append(f)
    figures: dict[str, Any] = {
        "messages": n,
        "concurrency": args.concurrency,
        "batch": args.batch,
    }
    rows = []
    for phase, per_run in results.items():
        sent = PHASES[phase]
        f = {
            k: median([r[k] for r in per_run])
            for k in ("redis_cpu_us", "command_us", "calls_per_message", "bytes_per_message")
        }
        f["commands"] = per_run[0]["commands"]
        figures[phase] = f
        rows.append(
            [
                phase,
                sent,
                fmt(f["redis_cpu_us"], "us"),
                fmt(f["command_us"], "us"),
                f"{f['calls_per_message']:.4f}",
                fmt(f["bytes_per_message"], "B"),
            ]
        )
    figures["total_redis_cpu_us"] = sum(figures[p]["redis_cpu_us"] for p in PHASES)
    table(
        f"Redis per message ({n:,} messages, {args.concurrency} enqueues in flight,"
        f" batch {args.batch}; medians of {runs} runs)",
        [
            "phase",
            "command sent",
            "redis-server CPU",
            "inside that command",
            "calls/message",
            "bytes in+out",
        ],
        rows,
    )
    save(args.json, "redis_ops", figures)


if __name__ == "__main__":
    main()
