"""`countq consumer`: the loop in a process, with its signals, /metrics port and heartbeat."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from countq.config import Settings
from countq.worker.heartbeat import Heartbeat
from countq.worker.loop import Consumer
from countq.worker.metrics import CloudWatch, serve_metrics

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    heartbeat = Heartbeat(settings.data_dir)
    consumer = Consumer(settings, alive=heartbeat.beat)

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: finishing the current batch, then stopping", signum)
        consumer.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server, port = serve_metrics(settings, consumer.queue)
    # Printed whatever LOG_LEVEL says: with CONSUMER_PORT=0 it is the only way to know.
    print(f"countq consumer: metrics on http://127.0.0.1:{port}/metrics", flush=True)
    if settings.metrics_namespace:
        publisher = CloudWatch(settings, consumer.queue)
        threading.Thread(
            target=publisher.publish_until,
            args=(consumer.stopping,),
            name="cloudwatch",
            daemon=True,
        ).start()
    try:
        consumer.run()
    finally:
        server.shutdown()
        heartbeat.stop()
