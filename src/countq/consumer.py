"""The consumer: Redis stream -> MySQL in batches, ack only after commit.

Reliability model:
- read a batch (XREADGROUP), insert it in one transaction (duplicates skipped by
  the unique message id), commit, then ack and remove the entries (one script
  call). A crash anywhere leaves the entries pending; they are stored exactly
  once whatever happens. The next batch is read while this one is committed.
- entries idle on a dead consumer are reclaimed (XAUTOCLAIM); one delivered
  MAX_DELIVERIES times, or that can never be stored, goes to the dead-letter
  stream with the reason.
- a database or Redis outage is retried with capped backoff, forever, keeping
  the batch in hand; SIGTERM hands the batch back (unacked) and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from countq import store
from countq.config import Settings
from countq.queue import ConsumerQueue, Message, parse_entry

log = logging.getLogger(__name__)

STORED = Counter("countq_stored_total", "Messages newly stored in the database")
DUPLICATES = Counter("countq_duplicates_total", "Redelivered messages already stored")
DEAD = Counter("countq_dead_lettered_total", "Messages moved to the dead-letter stream")
BATCH_SECONDS = Histogram("countq_batch_seconds", "Time to commit one batch")
BACKLOG = Gauge("countq_backlog", "Messages queued, not yet delivered")
PENDING = Gauge("countq_pending", "Messages delivered, not yet acked")
OLDEST_AGE = Gauge("countq_oldest_age_seconds", "Age of the oldest unstored message")
OUTAGES = Counter("countq_dependency_errors_total", "Failed calls to a dependency", ["dependency"])

T = TypeVar("T")

MAX_BACKOFF_S = 2.0
CLAIM_EVERY_S = 1.0
HEALTHY_WITHIN_S = 30.0


@dataclass
class Batch:
    """One fetch: the messages to store, and the entries to dead-letter with why."""

    messages: list[Message] = field(default_factory=list)
    rejected: list[tuple[str, dict[str, str] | None, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.messages) + len(self.rejected)


class Consumer:
    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = threading.Event()
        self.queue = ConsumerQueue(settings, self.name)
        self.engine = store.create_engine(settings, pool_size=1)
        self.last_loop = time.monotonic()
        self._next_claim = 0.0

    # -- the loop ---------------------------------------------------------

    def run(self) -> None:
        log.info("consumer %s reading %s", self.name, self.settings.stream_key)
        self._retry("redis", self.queue.ensure_group)
        # While this thread commits and acks one batch, another reads and parses
        # the next, so the database wait overlaps the Redis read and decode
        # (bench/bench_drain.py). Entries read ahead are pending under this
        # consumer like the batch in hand: a crash or a stop leaves both to be
        # reclaimed, never lost.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as reader:
            ahead: Future[Batch] | None = None
            while not self.stopping.is_set():
                self.last_loop = time.monotonic()
                batch = ahead.result() if ahead else self.fetch()
                ahead = reader.submit(self.fetch) if batch.size else None
                self.ack(self.handle(batch))
        self._retry_once("redis", self.queue.leave_group)
        self.queue.close()
        self.engine.dispose()
        log.info("consumer %s stopped", self.name)

    def run_once(self) -> int:
        """Fetch, store and ack one batch, in this thread. Returns how many entries."""
        batch = self.fetch()
        self.ack(self.handle(batch))
        return batch.size

    def fetch(self) -> Batch:
        """Reclaim stale entries when due, else read new ones; parse what came."""
        entries: list[tuple[str, dict[str, str] | None, int]] = []
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + CLAIM_EVERY_S
            entries = self._retry("redis", self.queue.claim_stale) or []
        if not entries:
            block = self.settings.consumer_block_ms
            fresh = self._retry("redis", lambda: self.queue.read_new(block)) or []
            entries = [(eid, fields, 1) for eid, fields in fresh]
        batch = Batch()
        for entry_id, fields, deliveries in entries:
            if deliveries > self.settings.max_deliveries:
                reason = f"delivered {deliveries} times, never stored"
                batch.rejected.append((entry_id, fields, reason))
                continue
            try:
                batch.messages.append(parse_entry(entry_id, fields))
            except ValueError as exc:
                batch.rejected.append((entry_id, fields, f"invalid message: {exc}"))
        return batch

    def handle(self, batch: Batch) -> list[str]:
        """Dead-letter the rejects and commit the rest; returns the entry ids to ack
        (none when stopping left the batch unstored)."""
        for entry_id, fields, reason in batch.rejected:
            self._dead_letter(entry_id, fields, reason)
        if not batch.messages:
            return []
        with BATCH_SECONDS.time():
            return self._store(batch.messages)

    def ack(self, entry_ids: list[str]) -> None:
        if entry_ids:
            self._retry("redis", lambda: self.queue.ack(entry_ids))

    def _store(self, batch: list[Message]) -> list[str]:
        """Commit the batch; returns the entry ids now safe to ack (none when
        stopping left it unstored: it stays pending)."""
        try:
            inserted = self._retry("database", lambda: self._commit(batch))
        except (DataError, IntegrityError) as exc:
            # Not an outage: some row cannot be stored. Find it row by row.
            log.warning("batch refused by the database (%s); storing row by row", exc)
            self._store_one_by_one(batch)
            return []
        if inserted is None:
            return []
        STORED.inc(inserted)
        DUPLICATES.inc(len(batch) - inserted)
        return [m.entry_id for m in batch]

    def _store_one_by_one(self, batch: list[Message]) -> None:
        """Store and ack each message alone; dead-letter the ones the database refuses."""
        for message in batch:
            try:
                inserted = self._retry("database", partial(self._commit, [message]))
            except (DataError, IntegrityError) as exc:
                self._dead_letter(message.entry_id, None, f"database refused it: {exc.orig}")
                continue
            if inserted is None:
                return  # stopping: the rest stay pending
            STORED.inc(inserted)
            self._retry("redis", partial(self.queue.ack, [message.entry_id]))

    def _commit(self, batch: list[Message]) -> int:
        with self.engine.begin() as conn:
            return store.store_batch(conn, batch)

    def _dead_letter(self, entry_id: str, fields: dict[str, str] | None, reason: str) -> None:
        self._retry("redis", lambda: self.queue.dead_letter(entry_id, fields, reason))
        DEAD.inc()

    # -- outages ------------------------------------------------------------

    def _retry(self, dependency: str, call: Callable[[], T]) -> T | None:
        """Call until it succeeds, backing off; None only when asked to stop."""
        delay = 0.05
        while True:
            self.last_loop = time.monotonic()  # retrying an outage is alive, not stuck
            try:
                return call()
            except AuthenticationError:
                # Credentials rotated: fetch them again once, then retry.
                self.queue.reconnect(refresh_credentials=True)
            except ResponseError as exc:
                if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                    raise
                # The stream was deleted under us: recreate it and go on.
                self._log_outage("redis", exc, delay)
                self._retry_once("redis", self.queue.ensure_group)
            except RedisError as exc:
                self._log_outage("redis", exc, delay)
            except (DataError, IntegrityError):
                raise
            except SQLAlchemyError as exc:
                self._log_outage("database", exc, delay)
            except OSError as exc:
                self._log_outage(dependency, exc, delay)
            if self.stopping.wait(delay):
                return None
            delay = min(delay * 2, MAX_BACKOFF_S)

    def _retry_once(self, dependency: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("%s: %s", dependency, exc)

    def _log_outage(self, dependency: str, exc: Exception, delay: float) -> None:
        OUTAGES.labels(dependency).inc()
        log.warning(
            "%s unavailable (%s: %s); retrying in %.2fs",
            dependency,
            type(exc).__name__,
            str(exc)[:200],
            delay,
        )

    def update_gauges(self) -> dict[str, Any] | None:
        try:
            stats = self.queue.stats()
        except RedisError:
            return None
        BACKLOG.set(stats["backlog"])
        PENDING.set(stats["pending"])
        OLDEST_AGE.set(stats["oldest_age_seconds"])
        return stats

    def publish_metrics(self, cloudwatch: Any) -> None:
        """Send the queue figures that drive autoscaling and the backlog-age alarm."""
        stats = self.update_gauges()
        if stats is None:
            return  # no datapoint: the alarm treats missing data as breaching
        dimensions = [{"Name": "Environment", "Value": self.settings.metrics_environment}]
        cloudwatch.put_metric_data(
            Namespace=self.settings.metrics_namespace,
            MetricData=[
                {
                    "MetricName": "Backlog",
                    "Dimensions": dimensions,
                    "Value": stats["backlog"] + stats["pending"],
                    "Unit": "Count",
                },
                {
                    "MetricName": "OldestAgeSeconds",
                    "Dimensions": dimensions,
                    "Value": stats["oldest_age_seconds"],
                    "Unit": "Seconds",
                },
            ],
        )

    def publish_metrics_forever(self) -> None:
        import boto3

        cloudwatch = boto3.client("cloudwatch")
        while not self.stopping.wait(self.settings.metrics_interval_s):
            try:
                self.publish_metrics(cloudwatch)
            except Exception as exc:  # a metrics hiccup must never stop the consumer
                log.warning("could not publish CloudWatch metrics: %s", exc)

    def healthy(self) -> bool:
        """Alive when the loop turned or retried recently (a blocked read lasts milliseconds)."""
        return time.monotonic() - self.last_loop < HEALTHY_WITHIN_S


def serve_health(consumer: Consumer, port: int) -> ThreadingHTTPServer:
    """GET /health and /metrics for the container health check and Prometheus."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                ok = consumer.healthy()
                body = b'{"status":"ok"}' if ok else b'{"status":"stalled"}'
                self._send(200 if ok else 503, body, "application/json")
            elif self.path == "/metrics":
                consumer.update_gauges()
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b'{"detail":"not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # health checks every few seconds would drown the log

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def run(settings: Settings) -> None:
    consumer = Consumer(settings)

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: finishing the current batch, then stopping", signum)
        consumer.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = serve_health(consumer, settings.http_port)
    if settings.metrics_namespace:
        threading.Thread(
            target=consumer.publish_metrics_forever, name="metrics", daemon=True
        ).start()
    try:
        consumer.run()
    finally:
        server.shutdown()
