"""The consumer's figures: Prometheus on CONSUMER_PORT, and CloudWatch for autoscaling.

The counters count as the loop goes; the queue gauges (backlog, pending,
oldest age) are read from Redis when Prometheus asks, so they are never stale.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from countq import aws, ports
from countq.config import Settings
from countq.queue.consumer import ConsumerQueue

log = logging.getLogger(__name__)

STORED = Counter("countq_stored_total", "Messages newly stored in the database")
DUPLICATES = Counter("countq_duplicates_total", "Redelivered messages already stored")
DEAD = Counter("countq_dead_lettered_total", "Messages moved to the dead-letter stream")
BATCH_SECONDS = Histogram("countq_batch_seconds", "Time to commit one batch")
OUTAGES = Counter("countq_dependency_errors_total", "Failed calls to a dependency", ["dependency"])

_GAUGES = {
    "backlog": ("countq_backlog", "Messages queued, not yet delivered"),
    "pending": ("countq_pending", "Messages delivered, not yet acked"),
    "oldest_age_seconds": ("countq_oldest_age_seconds", "Age of the oldest unstored message"),
}


class QueueGauges(Collector):
    """The queue's figures, read from Redis at each scrape (none while Redis is down)."""

    def __init__(self, queue: ConsumerQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.queue.stats()
        except RedisError:
            return
        for key, (name, documentation) in _GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=stats[key])  # type: ignore[literal-required]


def serve_metrics(settings: Settings, queue: ConsumerQueue) -> tuple[Any, int]:
    """Prometheus text on CONSUMER_PORT (any path); the server and the port it got."""
    try:
        server, _thread = start_http_server(settings.consumer_port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise ports.in_use_error("CONSUMER_PORT", settings.consumer_port) from None
    REGISTRY.register(QueueGauges(queue))
    return server, int(server.server_port)


class CloudWatch:
    """Publishes the figures that drive autoscaling and the backlog-age alarm."""

    def __init__(self, settings: Settings, queue: ConsumerQueue) -> None:
        self.settings = settings
        self.queue = queue

    def publish(self, cloudwatch: Any) -> None:
        try:
            stats = self.queue.stats()
        except RedisError:
            return  # no datapoint: the alarm treats missing data as breaching
        dimensions = [{"Name": "Environment", "Value": self.settings.metrics_environment}]
        cloudwatch.put_metric_data(
            Namespace=self.settings.metrics_namespace,
            MetricData=[
                _datum("Backlog", dimensions, stats["backlog"] + stats["pending"], "Count"),
                _datum("OldestAgeSeconds", dimensions, stats["oldest_age_seconds"], "Seconds"),
            ],
        )

    def publish_until(self, stopping: threading.Event) -> None:
        cloudwatch = aws.client("cloudwatch", self.settings)
        while not stopping.wait(self.settings.metrics_interval_s):
            try:
                self.publish(cloudwatch)
            except Exception as exc:  # a metrics hiccup must never stop the consumer
                log.warning("could not publish CloudWatch metrics: %s", exc)


def _datum(name: str, dimensions: list[dict[str, str]], value: float, unit: str) -> dict[str, Any]:
    return {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit}
