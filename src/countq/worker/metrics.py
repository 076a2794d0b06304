"""The consumer's figures: Prometheus on CONSUMER_PORT, and CloudWatch for autoscaling.

The counters count as the loop goes; the queue gauges (backlog, pending,
oldest age) are read from Redis when Prometheus asks, so they are never stale.
"""

from __future__ import annotations

import bisect
import errno
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from redis.exceptions import RedisError

from countq import aws, ports
from countq.config import Settings
from countq.messages import Message
from countq.queue import latency
from countq.queue.consumer import ConsumerQueue

log = logging.getLogger(__name__)

STORED = Counter("countq_stored_total", "Messages newly stored in the database")
DUPLICATES = Counter("countq_duplicates_total", "Redelivered messages already stored")
DEAD = Counter("countq_dead_lettered_total", "Messages moved to the dead-letter stream")
BATCH_SECONDS = Histogram("countq_batch_seconds", "Time to commit one batch")
OUTAGES = Counter("countq_dependency_errors_total", "Failed calls to a dependency", ["dependency"])

# 5 ms to 60 s: the end-to-end objective's alarm (default p99 > 5 s) sits mid-range.
END_TO_END_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# CloudWatch takes at most 150 distinct values per datum (PutMetricData).
_CLOUDWATCH_VALUES = 150


class EndToEnd(Collector):
    """POST to stored, per message, recorded once at the commit that stored it.

    Three readers: Prometheus (`countq_end_to_end_seconds`, served by this
    collector from its own tallies: bulk updates cost ~0.1 µs a message where
    Histogram.observe costs ~1 µs), the last minute in Redis for /stats
    (queue/latency.py), and CloudWatch's p50/p99 (log buckets with counts).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bucket_counts = [0] * (len(END_TO_END_BUCKETS) + 1)  # the last is +Inf
        self._sum_s = 0.0
        self._window: dict[int, Tally[int]] = {}  # unix second -> log bucket -> count
        self._cloudwatch: Tally[int] = Tally()  # log bucket -> count since the last publish
        self._next_flush = 0.0

    def observe(self, enqueued_ms: Iterable[int], now_ms: int | None = None) -> None:
        """Record the messages a commit just stored (and only those)."""
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        # Clocks of two hosts may disagree by a little: never below zero.
        by_ms = Tally(max(0, now_ms - ms) for ms in enqueued_ms)
        if not by_ms:
            return
        second = now_ms // 1000
        with self._lock:
            window = self._window.setdefault(second, Tally())
            for ms, count in by_ms.items():
                seconds = ms / 1000
                self._bucket_counts[bisect.bisect_left(END_TO_END_BUCKETS, seconds)] += count
                self._sum_s += seconds * count
                bucket = latency.bucket_of(ms)
                window[bucket] += count
                self._cloudwatch[bucket] += count

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total_s = list(self._bucket_counts), self._sum_s
        cumulative, running = [], 0
        bounds = (*map(floatToGoString, END_TO_END_BUCKETS), "+Inf")
        for bound, count in zip(bounds, counts, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(
            "countq_end_to_end_seconds",
            "Time from the POST (enqueue) to the commit that stored the message",
            buckets=cumulative,
            sum_value=total_s,
        )

    def flush_window(self, client: Any, settings: Settings, force: bool = False) -> None:
        """Add what was stored since the last flush to the shared window, at most once a second."""
        now = time.monotonic()
        with self._lock:
            if not self._window or (now < self._next_flush and not force):
                return
            window, self._window = self._window, {}
            self._next_flush = now + 1.0
        try:
            latency.add_to_window(client, settings, window)
        except RedisError as exc:  # a figure must never stop the consumer: keep it for the next try
            log.debug("end-to-end window not written: %s", exc)
            oldest = time.time() - latency.WINDOW_S
            with self._lock:
                for second, buckets in window.items():
                    if second >= oldest:
                        self._window.setdefault(second, Tally()).update(buckets)

    def take_cloudwatch_data(self) -> list[tuple[list[float], list[float]]]:
        """Values (seconds) and counts since the last call, in chunks CloudWatch accepts."""
        with self._lock:
            tally, self._cloudwatch = self._cloudwatch, Tally()
        items = sorted(tally.items())
        return [
            (
                [latency.bucket_ms(b) / 1000 for b, _ in items[i : i + _CLOUDWATCH_VALUES]],
                [float(c) for _, c in items[i : i + _CLOUDWATCH_VALUES]],
            )
            for i in range(0, len(items), _CLOUDWATCH_VALUES)
        ]


END_TO_END = EndToEnd()
REGISTRY.register(END_TO_END)


def just_stored(batch: Sequence[Message], inserted: int, seen: set[tuple[bytes, int]]) -> list[int]:
    """The enqueue times of the `inserted` messages a commit stored: all of them,
    or those not `seen` stored before it (db/seen.py, reclaimed batches). Should
    another consumer have stored some in between, which ones is unknown: the
    count stays exact, the times are the batch's."""
    if inserted >= len(batch):
        return [m.enqueued_ms for m in batch]
    fresh = [m.enqueued_ms for m in batch if (m.message_id, m.enqueued_ms) not in seen]
    return fresh[: max(inserted, 0)]


_GAUGES = {
    "backlog": ("countq_backlog", "Messages queued, not yet delivered"),
    "pending": ("countq_pending", "Messages delivered, not yet acked"),
    "oldest_age_seconds": ("countq_oldest_age_seconds", "Age of the oldest unstored message"),
}


_PARTITION_GAUGES = {
    "backlog": ("countq_partition_backlog", "Messages queued in one partition's stream"),
    "pending": ("countq_partition_pending", "Messages of one partition delivered, not acked"),
    "dead_letters": ("countq_partition_dead_letters", "One partition's dead letters"),
}


class QueueGauges(Collector):
    """The queue's figures, read from Redis at each scrape (none while Redis is down):
    the whole queue's (sums over every partition), and each partition's, labelled
    with its stream's key."""

    def __init__(self, queue: ConsumerQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.queue.stats()
        except RedisError:
            return
        for key, (name, documentation) in _GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=stats[key])  # type: ignore[literal-required]
        for key, (name, documentation) in _PARTITION_GAUGES.items():
            family = GaugeMetricFamily(name, documentation, labels=["stream"])
            for partition in stats["partitions"]:
                family.add_metric([partition["stream"]], partition[key])  # type: ignore[literal-required]
            yield family


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
        # Sums over every partition (the oldest age: the largest), so scaling on
        # backlog per task and the alarms see the whole queue whatever N is.
        dimensions = [{"Name": "Environment", "Value": self.settings.metrics_environment}]
        cloudwatch.put_metric_data(
            Namespace=self.settings.metrics_namespace,
            MetricData=[
                _datum("Backlog", dimensions, stats["backlog"] + stats["pending"], "Count"),
                _datum("OldestAgeSeconds", dimensions, stats["oldest_age_seconds"], "Seconds"),
            ],
        )
        self.publish_end_to_end(cloudwatch, dimensions)

    def publish_end_to_end(self, cloudwatch: Any, dimensions: list[dict[str, str]]) -> None:
        """Every message stored since the last publish, as values with counts: CloudWatch
        computes p50/p99 from them (a statistic set could not give percentiles)."""
        for values, counts in END_TO_END.take_cloudwatch_data():
            datum = {"MetricName": "EndToEndSeconds", "Dimensions": dimensions, "Unit": "Seconds"}
            cloudwatch.put_metric_data(
                Namespace=self.settings.metrics_namespace,
                MetricData=[{**datum, "Values": values, "Counts": counts}],
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
