"""The end-to-end time (POST to stored) as an SLI: `countq_end_to_end_seconds`
counts every stored message once, redeliveries and crashes included, and /stats
gives the last minute's p50/p99 from the window the consumers share in Redis."""

from __future__ import annotations

import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from countq.api.app import create_app
from countq.config import Settings
from countq.messages import uuid7
from countq.queue import latency
from countq.worker.loop import Consumer
from countq.worker.metrics import END_TO_END, CloudWatch
from tests.helpers.database import db_rows
from tests.helpers.processes import (
    free_port,
    settings_env,
    start_countq,
    stop,
    wait_http,
    wait_until,
)
from tests.helpers.services import REDIS_URL


def enqueue(settings: Settings, n: int, age_ms: int = 0) -> None:
    """n messages as the producer writes them, enqueued `age_ms` ago."""
    r = redis.Redis.from_url(REDIS_URL)
    if not r.exists(settings.stream_key):
        r.xgroup_create(settings.stream_key, settings.group, id="0", mkstream=True)
    ts = time.time_ns() // 1_000_000 - age_ms
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(settings.stream_key, {"id": str(uuid7()), "count": i, "ts": ts})
    pipe.execute()


def observed() -> float:
    return REGISTRY.get_sample_value("countq_end_to_end_seconds_count") or 0.0


def within_a_minute() -> float:
    return REGISTRY.get_sample_value("countq_end_to_end_seconds_bucket", {"le": "60.0"}) or 0.0


def window_total(settings: Settings) -> int:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    return sum(latency.merge(latency.window_pipeline(r, settings).execute()).values())


def flush_earlier_tests(settings: Settings) -> None:
    """Send what earlier tests' in-process consumers stored, and had not yet
    flushed, to a queue of its own (in production a process serves one queue),
    so this test's window holds only its own messages."""
    scratch = settings.model_copy(update={"redis_queue": f"scratch-{uuid7().hex[:12]}"})
    r = redis.Redis.from_url(REDIS_URL)
    END_TO_END.flush_window(r, scratch, force=True)
    if keys := r.keys(f"{{{scratch.redis_queue}}}:*"):
        r.delete(*keys)


def test_a_reclaimed_batch_is_timed_once_per_stored_message(settings: Settings) -> None:
    """Consumer A commits one batch and dies before its ack, with a second batch
    read and never committed: B reclaims both in one batch, half of it stored
    already. Each message is counted once, by the commit that stored it."""
    n = 1000
    flush_earlier_tests(settings)
    # The batch the dead consumer commits: older than the top bucket, so each
    # young message stays apart from it however slow a loaded machine is.
    enqueue(settings, 100, age_ms=120_000)
    enqueue(settings, n - 100, age_ms=200)
    before, young_before = observed(), within_a_minute()
    dead = Consumer(settings.model_copy(update={"consumer_batch_size": 100}), name="dead")
    dead.handle(dead.fetch())  # committed, never acked
    dead.fetch()  # read, never committed
    assert (db_rows(settings)[0], observed() - before) == (100, 100)
    time.sleep(settings.claim_idle_ms / 1000 + 0.1)
    survivor = Consumer(settings.model_copy(update={"consumer_batch_size": 200}), name="survivor")
    first = survivor.fetch()
    assert first.redelivered and len(first.messages) == 200, "one batch, half of it stored"
    survivor.ack(first.partition, survivor.handle(first))
    while survivor.run_once():
        pass
    END_TO_END.flush_window(survivor.queue.client, settings, force=True)
    assert db_rows(settings) == (n, n, n)
    assert observed() - before == n
    # Each message's own time: the 100 old ones stored by the dead consumer,
    # never again by the survivor, and the 900 young ones by the survivor.
    assert within_a_minute() - young_before == n - 100
    assert window_total(settings) == n
    for consumer in (dead, survivor):
        consumer.queue.close()
        consumer.engine.dispose()


def test_after_a_sigkill_the_next_consumer_times_exactly_what_it_stored(
    settings: Settings, tmp_path: Path
) -> None:
    n = 20_000
    enqueue(settings, n)
    env = {**settings_env(settings), "CONSUMER_BATCH_SIZE": "500"}
    log = tmp_path / "consumer.log"
    first = start_countq("consumer", {**env, "CONSUMER_PORT": str(free_port())}, log)
    wait_until(lambda: db_rows(settings)[0] >= n // 3, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    stored_before = db_rows(settings)[0]
    assert stored_before < n, "the kill must land mid-drain"
    port = free_port()
    second = start_countq("consumer", {**env, "CONSUMER_PORT": str(port)}, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", proc=second)
        wait_until(lambda: db_rows(settings)[0] == n, timeout=120, interval=0.2)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        assert stop(second) == 0
    match = re.search(r"^countq_end_to_end_seconds_count ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, text
    assert float(match.group(1)) == n - stored_before
    assert db_rows(settings) == (n, n, n)


def test_stats_gives_the_last_minutes_p50_and_p99(settings: Settings) -> None:
    flush_earlier_tests(settings)
    with TestClient(create_app(settings)) as client:
        stats = client.get("/stats").json()
        assert (stats["end_to_end_p50_seconds"], stats["end_to_end_p99_seconds"]) == (None, None)
        enqueue(settings, 98, age_ms=100)
        enqueue(settings, 2, age_ms=3000)
        consumer = Consumer(settings, name="stats")
        while consumer.run_once():
            pass
        END_TO_END.flush_window(consumer.queue.client, settings, force=True)
        stats = client.get("/stats").json()
    p50, p99 = stats["end_to_end_p50_seconds"], stats["end_to_end_p99_seconds"]
    # Log buckets 5% wide, plus the time the test itself took to store them.
    assert 0.1 <= p50 < 0.1 * 1.05 + 2, stats
    assert 3.0 <= p99 < 3.0 * 1.05 + 2, stats
    consumer.queue.close()
    consumer.engine.dispose()


def test_quantiles_from_log_buckets() -> None:
    buckets = {latency.bucket_of(ms): 0 for ms in (1, 100, 5000)}
    assert latency.quantile_seconds({}, 0.5) is None
    buckets[latency.bucket_of(100)] = 99
    buckets[latency.bucket_of(5000)] = 1
    assert 0.1 <= (latency.quantile_seconds(buckets, 0.5) or 0) < 0.105
    assert 0.1 <= (latency.quantile_seconds(buckets, 0.99) or 0) < 0.105
    assert 5.0 <= (latency.quantile_seconds(buckets, 0.995) or 0) < 5.25
    assert latency.quantile_seconds({latency.bucket_of(0): 3}, 0.99) == 0.001


def test_cloudwatch_gets_p50_and_p99_of_what_was_stored(settings: Settings, fake_aws: str) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=fake_aws)
    s = settings.model_copy(update={"metrics_namespace": "countq", "metrics_environment": "dev"})
    END_TO_END.take_cloudwatch_data()  # what earlier tests stored
    enqueue(s, 98, age_ms=100)
    enqueue(s, 2, age_ms=3000)
    consumer = Consumer(s, name="cloudwatch")
    while consumer.run_once():
        pass
    CloudWatch(s, consumer.queue).publish(cloudwatch)
    dimensions = [{"Name": "Environment", "Value": "dev"}]
    answer = cloudwatch.get_metric_statistics(
        Namespace="countq",
        MetricName="EndToEndSeconds",
        Dimensions=dimensions,
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=3600,
        Statistics=["SampleCount", "Minimum", "Maximum"],
    )
    # Every message, as values with counts: CloudWatch takes p50/p99 from them
    # (moto keeps the values but computes no percentiles, so those are not asked).
    (point,) = answer["Datapoints"]
    assert point["SampleCount"] == 100
    assert 0.1 <= point["Minimum"] < 0.105 + 2
    assert 3.0 <= point["Maximum"] < 3.15 + 2
    consumer.queue.close()
    consumer.engine.dispose()
