"""The producer's Prometheus counters, and /metrics across uvicorn workers."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess

ENQUEUED = Counter("countq_enqueued_total", "Messages accepted onto the queue")
REFUSED = Counter("countq_refused_total", "POST /count refused", ["reason"])


def metrics_text() -> bytes:
    """This process's metrics, or every worker's added up when there are several."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
