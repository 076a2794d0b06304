"""`countq producer`: the API under uvicorn."""

from __future__ import annotations

import os
import shutil

from countq import logs, ports
from countq.config import Settings


def serve(settings: Settings) -> None:
    import uvicorn

    if ports.in_use(settings.http_port):
        raise ports.in_use_error("HTTP_PORT", settings.http_port)
    if settings.web_concurrency > 1:
        # Each worker is a process of its own; prometheus_client adds their
        # counters up from files in one folder, emptied so a restart starts at 0.
        metrics_dir = settings.data_dir.resolve() / f"prometheus-{settings.http_port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "countq.api.app:create_app",
        factory=True,
        host="0.0.0.0",
        port=settings.http_port,
        workers=settings.web_concurrency,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=logs.config(settings.log_format, settings.log_level),
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=8,
    )
