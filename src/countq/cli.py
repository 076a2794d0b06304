"""`countq producer | consumer | check | migrate | dev | importer`."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pydantic import ValidationError

from countq.config import Settings, get_settings

log = logging.getLogger("countq")

COMMANDS = ("producer", "consumer", "check", "migrate", "dev", "importer")


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def cmd_producer(settings: Settings) -> int:
    import uvicorn

    if settings.web_concurrency > 1:
        # Each worker is a process of its own; prometheus_client adds their
        # counters up from files in one folder, emptied so a restart starts at 0.
        metrics_dir = settings.data_dir.resolve() / f"prometheus-{settings.http_port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "countq.producer:create_app",
        factory=True,
        host="0.0.0.0",
        port=settings.http_port,
        workers=settings.web_concurrency,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=8,
    )
    return 0


def cmd_consumer(settings: Settings) -> int:
    from countq import consumer

    consumer.run(settings)
    return 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (our http URLs)
            return bool(response.status == 200)
    except OSError:
        return False


def cmd_check(settings: Settings) -> int:
    """Container health check for producer and consumer alike."""
    url = f"http://127.0.0.1:{settings.http_port}/health"
    if _answers(url):
        return 0
    print(f"unhealthy: {url} does not answer 200", file=sys.stderr)
    return 1


def cmd_migrate(settings: Settings) -> int:
    from countq import store

    store.migrate(settings.effective_database_url())
    log.info("database at head")
    return 0


def cmd_dev(settings: Settings) -> int:
    """The whole stack on this host: embedded Redis/SQLite unless configured."""
    env = dict(os.environ)
    embedded_redis = None
    if settings.redis_embedded:
        from countq.embedded import start_redis

        embedded_redis = start_redis(settings)
        env["REDIS_URL"] = f"unix://{settings.embedded_redis_socket}"
    env["DATA_DIR"] = str(settings.data_dir.resolve())
    frontend = settings.frontend_dir or Path("frontend/dist")
    if frontend.is_dir():
        env["FRONTEND_DIR"] = str(frontend.resolve())
    cmd_migrate(settings)

    port = settings.http_port
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "countq", "producer"], env={**env, "HTTP_PORT": str(port)}
        ),
        subprocess.Popen(
            [sys.executable, "-m", "countq", "consumer"], env={**env, "HTTP_PORT": str(port + 1)}
        ),
    ]
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    health = [f"http://127.0.0.1:{p}/health" for p in (port, port + 1)]
    while not stopping and not all(_answers(url) for url in health):
        if any(c.poll() is not None for c in children):
            break  # one failed to start: fall through and stop the other
        time.sleep(0.2)
    redis_where = "embedded" if embedded_redis else settings.effective_redis_url().split("@")[-1]
    db_where = "SQLite" if settings.database_embedded else "MySQL"
    if all(c.poll() is None for c in children) and not stopping:
        print(
            f"\ncountq is up (Redis: {redis_where}, database: {db_where})\n"
            f"  page + API   http://localhost:{port}/\n"
            f"  API docs     http://localhost:{port}/docs\n"
            f"  consumer     http://localhost:{port + 1}/health\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
    while not stopping and all(c.poll() is None for c in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if embedded_redis is not None:
        embedded_redis.shutdown()
    return 0 if stopping else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="countq", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="importer: migrate | import ...")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            print(f"countq: {name}={error.get('input')!r}: {error['msg']}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    if args.command == "importer":
        from countq import importer

        return int(importer.main(args.args) or 0)
    handler = {
        "producer": cmd_producer,
        "consumer": cmd_consumer,
        "check": cmd_check,
        "migrate": cmd_migrate,
        "dev": cmd_dev,
    }[args.command]
    return handler(settings)


if __name__ == "__main__":
    sys.exit(main())
