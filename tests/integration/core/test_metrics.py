"""Metrics: the producer's Prometheus counters across workers, and the consumer's
CloudWatch figures (autoscaling and the backlog-age alarm) on moto."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest
import redis

from countq.config import Settings
from countq.messages import uuid7
from countq.worker.loop import Consumer
from countq.worker.metrics import END_TO_END, CloudWatch
from tests.helpers.processes import free_port, settings_env, start_countq, stop, wait_http
from tests.helpers.services import REDIS_URL


@pytest.fixture
def cloudwatch(fake_aws: str) -> object:
    return boto3.client("cloudwatch", region_name=fake_aws)


def test_consumer_publishes_backlog_and_oldest_age(settings: Settings, cloudwatch: object) -> None:
    s = settings.model_copy(update={"metrics_namespace": "countq", "metrics_environment": "dev"})
    consumer = Consumer(s, name="metrics")
    consumer.queue.ensure_group()
    r = redis.Redis.from_url(REDIS_URL)
    for i in range(3):
        r.xadd(s.stream_key, {"id": str(uuid7()), "count": i, "ts": 0})
    END_TO_END.take_cloudwatch_data()  # earlier tests stored messages; this one stores none
    CloudWatch(s, consumer.queue).publish(cloudwatch)
    metrics = cloudwatch.list_metrics(Namespace="countq")["Metrics"]  # type: ignore[attr-defined]
    assert {m["MetricName"] for m in metrics} == {"Backlog", "OldestAgeSeconds"}
    assert all(m["Dimensions"] == [{"Name": "Environment", "Value": "dev"}] for m in metrics)
    data = cloudwatch.get_metric_data(  # type: ignore[attr-defined]
        MetricDataQueries=[
            {
                "Id": "backlog",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "countq",
                        "MetricName": "Backlog",
                        "Dimensions": [{"Name": "Environment", "Value": "dev"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        # An hour either side: moto walks every period of the window (a century took 90 s).
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
    )
    assert data["MetricDataResults"][0]["Values"] == [3.0]


def test_producer_counters_add_up_across_workers(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {**settings_env(settings), "HTTP_PORT": str(port), "WEB_CONCURRENCY": "2"}
    proc = start_countq("producer", env, tmp_path / "producer.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc=proc)
        posts = 60
        for i in range(posts):  # a new connection each, so both workers take some
            assert httpx.post(f"{url}/count", json={"count": i}).status_code == 202
        seen = []
        for _ in range(10):
            text = httpx.get(f"{url}/metrics").text
            match = re.search(r"^countq_enqueued_total ([0-9.e+]+)$", text, re.MULTILINE)
            assert match, text
            seen.append(float(match.group(1)))
    finally:
        assert stop(proc) == 0
    assert seen == [posts] * 10
