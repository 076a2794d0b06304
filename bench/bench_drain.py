"""Benchmark 2: consumer drain rate into MariaDB, messages/s.

countq: the stream is prefilled with N entries in the producer's format while
the consumer group points past them; real `countq consumer` processes start
and idle; then XGROUP SETID 0 releases the backlog and the clock runs until
the stream is empty (an entry is deleted only after its row is committed).
Every message is then checked to be stored once. Variants: CONSUMER_BATCH_SIZE
and the number of consumer processes.

naive: a Redis list prefilled with M messages, drained by naive_consumer.py
(BRPOP one, one autocommit INSERT), timed until every row is in.
"""

from __future__ import annotations

import json
import time
import uuid

from common import (
    BENCH,
    PY,
    Proc,
    countq_env,
    cpu_seconds,
    database,
    db_name,
    fmt,
    log,
    median,
    mysql,
    parser,
    processes,
    redis_client,
    redis_queue,
    save,
    start_countq,
    table,
    verdict,
)

from countq.messages import uuid7
from countq.queue import keys

TARGET = 100_000
CHUNK = 2000


# A last-delivered id in the far future keeps the group from handing out the
# entries being prefilled; XGROUP SETID 0 then releases them all at once.
# Deleting the stream instead fails a consumer blocked in XREADGROUP with
# "UNBLOCKED the stream key no longer exists" (Redis 7), which it does not retry.
HOLD_ID = "99999999999999-0"


def prefill_stream(r: object, key: str, n: int, group: str) -> None:
    """N entries as ENQUEUE_LUA writes them, behind a group that does not see them yet."""
    try:
        r.xgroup_create(key, group, id="$", mkstream=True)  # type: ignore[attr-defined]
    except Exception as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    r.xgroup_setid(key, group, HOLD_ID)  # type: ignore[attr-defined]
    now_ms = time.time_ns() // 1_000_000
    for start in range(0, n, CHUNK):
        pipe = r.pipeline(transaction=False)  # type: ignore[attr-defined]
        for i in range(start, min(start + CHUNK, n)):
            pipe.xadd(key, {keys.ID: str(uuid7()), keys.COUNT: i, keys.TS: now_ms})
        pipe.execute()


def reset_store(db: str) -> None:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE TABLE messages")
        cur.execute(
            "UPDATE message_stats SET row_count = 0, last_value = NULL, last_id = NULL,"
            " updated_ms = NULL WHERE id = 1"
        )
    conn.close()


def stored(db: str, table_name: str = "messages") -> tuple[int, int]:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), COUNT(DISTINCT message_id) FROM {table_name}")  # noqa: S608
        rows, distinct = cur.fetchone()  # type: ignore[misc]
    conn.close()
    return int(rows), int(distinct)


def drain_countq(
    db_url: str, queue: str, n: int, batch: int, consumers: int, runs: int
) -> tuple[list[float], list[float]]:
    """Rates in msg/s and the consumers' CPU in us per message, one per counted run."""
    db = db_name(db_url)
    key, group = f"{{{queue}}}:stream", "consumers"
    r = redis_client()
    rates, cpu = [], []
    with processes() as started:
        for run in range(runs + 1):  # run 0 is a warm-up (smaller), not counted
            count = n // 10 if run == 0 else n
            reset_store(db)
            prefill_stream(r, key, count, group)
            if not started:
                for _ in range(consumers):
                    start_countq(started, "consumer", db_url, queue, CONSUMER_BATCH_SIZE=batch)
            cpu0 = sum(cpu_seconds(proc.popen.pid) for proc in started)
            t0 = time.perf_counter()
            r.xgroup_setid(key, group, "0")
            while r.xlen(key) > 0:
                time.sleep(0.005)
                for proc in started:
                    proc.check_alive()
            elapsed = time.perf_counter() - t0
            used = sum(cpu_seconds(proc.popen.pid) for proc in started) - cpu0
            rows, distinct = stored(db)
            if rows != count or distinct != count:
                raise RuntimeError(f"stored {rows} rows ({distinct} distinct) of {count}")
            if run:
                rates.append(count / elapsed)
                cpu.append(used / count * 1e6)
                log(
                    f"countq batch={batch} consumers={consumers} run {run}: "
                    f"{count:,} in {elapsed:.2f} s = {count / elapsed:,.0f} msg/s, "
                    f"consumer CPU {cpu[-1]:.1f} us/msg"
                )
    r.close()
    return rates, cpu


def drain_naive(db_url: str, queue: str, m: int, runs: int) -> list[float]:
    db = db_name(db_url)
    key = f"{queue}:list"
    r = redis_client()
    rates = []
    with processes() as started:
        proc = Proc("naive-consumer", [PY, str(BENCH / "naive_consumer.py")],
                    countq_env(db_url, queue, 0))  # fmt: skip
        started.append(proc)
        while True:  # ready once it has created its table
            proc.check_alive()
            try:
                stored(db, "naive_messages")
                break
            except Exception:
                time.sleep(0.1)
        for run in range(runs + 1):
            count = m // 10 if run == 0 else m
            conn = mysql(db)
            with conn.cursor() as cur:
                cur.execute("TRUNCATE TABLE naive_messages")
            now_ms = time.time_ns() // 1_000_000
            payloads = [
                json.dumps({"id": str(uuid.uuid4()), "count": i, "ts": now_ms})
                for i in range(count)
            ]
            t0 = time.perf_counter()
            for start in range(0, count, CHUNK):
                r.lpush(key, *payloads[start : start + CHUNK])
            while True:
                with conn.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM naive_messages")
                    if cur.fetchone()[0] >= count:  # type: ignore[index]
                        break
                proc.check_alive()
                time.sleep(0.01)
            elapsed = time.perf_counter() - t0
            conn.close()
            if run:
                rates.append(count / elapsed)
                log(f"naive run {run}: {count:,} in {elapsed:.2f} s = {count / elapsed:,.0f} msg/s")
    r.close()
    return rates


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--messages", type=int, default=200_000, help="countq prefill per run")
    p.add_argument("--naive-messages", type=int, default=10_000, help="naive prefill per run")
    p.add_argument("--batches", type=int, nargs="+", default=[500, 1000, 2000])
    p.add_argument("--consumers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    figures: dict[str, float] = {}
    rows = []
    with database("drain") as db_url, redis_queue("drain") as queue:
        naive = median(drain_naive(db_url, queue, args.naive_messages, args.runs))
        figures["naive_msgs_per_s"] = naive
        configs = [(b, 1) for b in args.batches] + [(1000, c) for c in args.consumers if c != 1]
        for batch, consumers in configs:
            rates, cpu = drain_countq(db_url, queue, args.messages, batch, consumers, args.runs)
            rate = median(rates)
            figures[f"countq_batch{batch}_consumers{consumers}"] = rate
            figures[f"countq_batch{batch}_consumers{consumers}_cpu_us_per_msg"] = median(cpu)
            rows.append(
                [
                    str(batch),
                    str(consumers),
                    fmt(rate),
                    fmt(naive),
                    f"{rate / naive:.0f}x",
                    f"{median(cpu):.1f} us",
                    verdict(rate >= TARGET),
                ]
            )
    table(
        f"Consumer drain into MariaDB, msg/s, median of {args.runs} runs "
        f"(countq {args.messages:,} per run, naive {args.naive_messages:,}; target >= {TARGET:,})",
        [
            "batch",
            "consumers",
            "countq msg/s",
            "naive msg/s",
            "ratio",
            "consumer CPU/msg",
            "target",
        ],
        rows,
    )
    save(args.json, "drain", figures)


if __name__ == "__main__":
    main()
