"""Tracing off against on, side by side in one run: POST /count's rate as a
ratio to the ceiling (bench_post.py's measure) and the consumer's drain rate
(bench_drain.py's), with the producer and consumer started without any OTEL_*
variable (off) and with a 10% sample exported to a local OTLP/HTTP receiver
(bench/otlp_sink.py, in this process) (on). Runs alternate off/on so that a
noisy machine weighs on both alike.
"""

from __future__ import annotations

import os
import shutil

import redis
from common import (
    database,
    db_name,
    drain_timed,
    fmt,
    log,
    median,
    medians,
    parser,
    prefill_stream,
    processes,
    redis_client,
    redis_queue,
    reset_store,
    save,
    start_countq,
    start_reference_http,
    table,
    wrk_rounds,
)
from otlp_sink import Sink

from countq.messages import uuid7


def otel_env(sink: Sink, ratio: float) -> dict[str, object]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": ratio,
    }


def without_otel() -> None:
    """Off means no OTEL_* variable at all, whatever this shell has."""
    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        del os.environ[name]


def post_figures(
    db_url: str, queue: str, on: dict[str, object], runs: int, seconds: int, connections: int
) -> dict[str, dict[str, float]]:
    """Median req/s, p99 and server CPU of countq (off, on) and of the ceiling."""
    r = redis_client()
    with processes() as started:
        off_proc, off_port = start_countq(started, "producer", db_url, queue)
        on_proc, on_port = start_countq(started, "producer", db_url, queue, **on)
        ceiling, ceiling_port = start_reference_http(started, "ceiling_app:app", db_url, queue)
        servers = (
            ("off", off_port, off_proc.popen.pid),
            ("on", on_port, on_proc.popen.pid),
            ("ceiling", ceiling_port, ceiling.popen.pid),
        )
        results = wrk_rounds(
            servers,
            lambda _: r.delete(f"{{{queue}}}:stream", f"{queue}:list"),
            runs,
            seconds,
            connections,
            "POST",
        )
    r.close()
    return medians(results)


def prefill_traced(r: redis.Redis, key: str, n: int, group: str, ratio: float) -> None:
    """N entries as a tracing-on producer writes them: each with a traceparent,
    `ratio` of them sampled (the consumer links only those)."""
    every = max(1, round(1 / ratio)) if ratio else 0

    def traced(i: int, now_ms: int) -> dict[str, object]:
        flags = "01" if every and i % every == 0 else "00"
        parent = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-{flags}"
        return {"id": str(uuid7()), "count": i, "ts": now_ms, "traceparent": parent}

    prefill_stream(r, key, n, group, traced)


def drain_figures(
    db_url: str, queue: str, on: dict[str, object], ratio: float, n: int, runs: int
) -> dict[str, dict[str, float]]:
    """Median msg/s and consumer CPU per message, off and on, interleaved (one consumer each)."""
    db = db_name(db_url)
    key, group = f"{{{queue}}}:stream", "consumers"
    r = redis_client()
    out: dict[str, dict[str, list[float]]] = {k: {"rate": [], "cpu_us": []} for k in ("off", "on")}
    for run in range(runs + 1):  # run 0 warms both up, not counted
        for name, extra in (("off", {}), ("on", on)):
            count = n // 10 if run == 0 else n
            reset_store(db)
            r.delete(key, f"{queue}:list")  # what the POST figures left, and the group
            if name == "on":
                prefill_traced(r, key, count, group, ratio)
            else:
                prefill_stream(r, key, count, group)
            with processes() as started:
                start_countq(started, "consumer", db_url, queue, **extra)
                elapsed, used = drain_timed(r, key, group, db, count, started)
            if run:
                out[name]["rate"].append(count / elapsed)
                out[name]["cpu_us"].append(used / count * 1e6)
                cpu_us = out[name]["cpu_us"][-1]
                log(
                    f"drain run {run} {name}: {count:,} in {elapsed:.2f} s = "
                    f"{count / elapsed:,.0f} msg/s, consumer CPU {cpu_us:.1f} us/msg"
                )
    r.close()
    return {k: {m: median(v) for m, v in d.items()} for k, d in out.items()}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=int, default=10, help="length of one wrk run")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--messages", type=int, default=200_000, help="drain prefill per run")
    p.add_argument("--ratio", type=float, default=0.1, help="OTEL_TRACES_SAMPLER_ARG when on")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run scripts/bench-tools.sh")
    without_otel()
    with Sink(port=0) as sink:
        on = otel_env(sink, args.ratio)
        with database("tracing") as db_url, redis_queue("tracing") as queue:
            med = post_figures(db_url, queue, on, args.runs, args.seconds, args.connections)
            drained = drain_figures(db_url, queue, on, args.ratio, args.messages, args.runs)
        spans = sink.spans
    figures = {
        "post_off_ratio_to_ceiling": med["off"]["rps"] / med["ceiling"]["rps"],
        "post_on_ratio_to_ceiling": med["on"]["rps"] / med["ceiling"]["rps"],
        "post_off_rps": med["off"]["rps"],
        "post_on_rps": med["on"]["rps"],
        "post_off_p99_ms": med["off"]["p99_ms"],
        "post_on_p99_ms": med["on"]["p99_ms"],
        "post_off_cpu_us": med["off"]["cpu_us"],
        "post_on_cpu_us": med["on"]["cpu_us"],
        "drain_off_msgs_per_s": drained["off"]["rate"],
        "drain_on_msgs_per_s": drained["on"]["rate"],
        "drain_off_cpu_us_per_msg": drained["off"]["cpu_us"],
        "drain_on_cpu_us_per_msg": drained["on"]["cpu_us"],
        "sample_ratio": args.ratio,
        "spans_received": spans,
        "load_average_1m": os.getloadavg()[0],
    }
    rows = [
        [
            "POST /count req/s (ratio to ceiling)",
            f"{fmt(med['off']['rps'])} ({figures['post_off_ratio_to_ceiling']:.2f}x)",
            f"{fmt(med['on']['rps'])} ({figures['post_on_ratio_to_ceiling']:.2f}x)",
            f"{med['on']['rps'] / med['off']['rps'] - 1:+.1%}",
        ],
        [
            "POST /count p99",
            fmt(med["off"]["p99_ms"], "ms"),
            fmt(med["on"]["p99_ms"], "ms"),
            f"{med['on']['p99_ms'] / med['off']['p99_ms'] - 1:+.1%}",
        ],
        [
            "producer CPU per request",
            f"{med['off']['cpu_us']:.0f} us",
            f"{med['on']['cpu_us']:.0f} us",
            f"{med['on']['cpu_us'] / med['off']['cpu_us'] - 1:+.1%}",
        ],
        [
            "drain msg/s (1 consumer)",
            fmt(drained["off"]["rate"]),
            fmt(drained["on"]["rate"]),
            f"{drained['on']['rate'] / drained['off']['rate'] - 1:+.1%}",
        ],
        [
            "consumer CPU per message",
            f"{drained['off']['cpu_us']:.1f} us",
            f"{drained['on']['cpu_us']:.1f} us",
            f"{drained['on']['cpu_us'] / drained['off']['cpu_us'] - 1:+.1%}",
        ],
    ]
    table(
        f"Tracing off vs on ({args.ratio:.0%} sampled, OTLP/HTTP to a local receiver: "
        f"{spans:,} spans), median of {args.runs} interleaved runs; ceiling "
        f"{fmt(med['ceiling']['rps'])} req/s; load average {figures['load_average_1m']:.2f}",
        ["figure", "off", "on", "on vs off"],
        rows,
    )
    save(args.json, "tracing", figures)


if __name__ == "__main__":
    main()
