"""Soak: POSTs at a steady open-loop rate for many minutes while the consumer is
SIGKILLed and restarted every minute; then the backlog drained and checked.

Not part of `make test` or `make bench` (10 minutes by default). Every
--sample-every seconds it prints the producer's and the consumer's RSS; at the
end, the producer's RSS slope after the first minute and its growth, and the
exactly-once check (rows == distinct ids == the summary row, and every 202
stored). The consumer's RSS is per process: it restarts every kill, so only
its peak is meaningful. REDIS_TIMEOUT_S is 5 s here, so a 503 means Redis
refused (none expected), never a producer starved by the shared machine.

`.venv/bin/python bench/soak.py --minutes 10 --rate 2000`
"""

from __future__ import annotations

import argparse
import signal
import statistics
import threading
import time
from pathlib import Path

from common import database, db_name, log, mysql, processes, redis_client, redis_queue, start_countq
from loadgen import Result, paced


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per minute."""
    if len(samples) < 2:
        return float("nan")
    xs, ys = [t for t, _ in samples], [v for _, v in samples]
    return float(statistics.linear_regression(xs, ys).slope * 60)


def stored(db: str) -> tuple[int, int, int]:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM messages")
        rows, distinct = cur.fetchone()  # type: ignore[misc]
        cur.execute("SELECT row_count FROM message_stats")
        summary = cur.fetchone()
    conn.close()
    return int(rows), int(distinct), int(summary[0]) if summary else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--rate", type=float, default=2000, help="POSTs per second, open loop")
    p.add_argument("--kill-every", type=float, default=60, help="seconds between consumer kills")
    p.add_argument("--sample-every", type=float, default=30, help="seconds between RSS samples")
    args = p.parse_args()
    seconds = args.minutes * 60
    r = redis_client()
    with database("soak") as db_url, redis_queue("soak") as queue, processes() as started:
        extra = {"REDIS_TIMEOUT_S": 5, "CLAIM_IDLE_MS": 2000}
        producer, port = start_countq(started, "producer", db_url, queue, **extra)
        consumer, _ = start_countq(started, "consumer", db_url, queue, **extra)
        result: list[Result] = []
        load = threading.Thread(
            target=lambda: result.append(paced(port, args.rate, seconds, connections=64))
        )
        t0 = time.monotonic()
        load.start()
        producer_rss: list[tuple[float, float]] = []
        consumer_peak = 0.0
        kills = 0
        next_kill, next_sample = t0 + args.kill_every, t0
        while load.is_alive():
            now = time.monotonic()
            if now >= next_sample:
                next_sample += args.sample_every
                p_mb, c_mb = rss_mb(producer.popen.pid), rss_mb(consumer.popen.pid)
                producer_rss.append((now - t0, p_mb))
                consumer_peak = max(consumer_peak, c_mb)
                log(f"t={now - t0:4.0f}s producer RSS {p_mb:.1f} MB, consumer RSS {c_mb:.1f} MB")
            if now >= next_kill:
                next_kill += args.kill_every
                consumer.popen.send_signal(signal.SIGKILL)
                consumer.popen.wait()
                started.remove(consumer)
                consumer, _ = start_countq(started, "consumer", db_url, queue, **extra)
                kills += 1
                log(f"t={now - t0:4.0f}s consumer SIGKILLed and restarted ({kills})")
            time.sleep(0.2)
        load.join()
        load_s = time.monotonic() - t0
        sent = result[0]
        log(f"load done: sent {sent.sent}, 202 {sent.ok}, other {sent.failed}; draining")
        drain_started = time.monotonic()
        while r.xlen(f"{{{queue}}}:stream") > 0:
            consumer.check_alive()
            time.sleep(0.5)
        rows, distinct, summary = stored(db_name(db_url))
    after_first_minute = [(t, v) for t, v in producer_rss if t >= 60]
    growth = (
        (after_first_minute[-1][1] / after_first_minute[0][1] - 1) * 100
        if len(after_first_minute) >= 2
        else float("nan")
    )
    print(
        f"\nsoak: {sent.sent:,} POSTs offered at {args.rate:g}/s ({args.minutes:g} min), "
        f"answered at {sent.rate:,.0f}/s in {load_s / 60:.1f} min, {kills} consumer SIGKILLs, "
        f"drained in {time.monotonic() - drain_started:.0f} s\n"
        f"  producer RSS after the first minute: slope {slope_per_min(after_first_minute):+.2f} "
        f"MB/min, growth {growth:+.1f}% (bound 10%)\n"
        f"  consumer RSS peak {consumer_peak:.1f} MB (per process; it restarts each kill)\n"
        f"  stored {rows}, distinct {distinct}, summary {summary}, 202s {sent.ok}: "
        + ("exactly once" if rows == distinct == summary == sent.ok else "MISMATCH"),
        flush=True,
    )


if __name__ == "__main__":
    main()
