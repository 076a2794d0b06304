"""`countq dev` (what `make run` starts): the whole stack on this host.

It runs the migrations, then a producer and a consumer as child processes, on
an embedded Redis and SQLite unless REDIS_* / MYSQL_* point at real servers;
prints where everything is once both answer, and stops both on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from countq import ports
from countq.cli.check import answers
from countq.cli.embedded import start_redis
from countq.config import Settings

STOP_TIMEOUT_S = 10.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "dev", help="migrate, then producer and consumer on this host (make run)"
    )
    p.set_defaults(handler=handler, iam_login=True)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    """0 after Ctrl-C; a child's exit status when one of them failed."""
    from countq.db.migrate import migrate

    embedded = None
    if settings.redis_embedded:
        embedded = start_redis(settings)
    try:
        migrate(settings)
        env = _child_env(settings, consumer_port=_consumer_port(settings))
        return _supervise(settings, env, embedded is not None)
    finally:
        if embedded is not None:
            embedded.shutdown()


def _consumer_port(settings: Settings) -> int:
    """CONSUMER_PORT when set; else its default when free, else any free port
    (never one taken, the producer's included)."""
    if "consumer_port" in settings.model_fields_set:
        return settings.consumer_port
    preferred = settings.consumer_port if settings.consumer_port != settings.http_port else 0
    return ports.free_port(preferred)


def _child_env(settings: Settings, consumer_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir.resolve()),
        "HTTP_PORT": str(settings.http_port),
        "CONSUMER_PORT": str(consumer_port),
    }
    if settings.redis_embedded:
        env["REDIS_URL"] = f"unix://{settings.embedded_redis_socket}"
    page = settings.frontend_dir or Path("frontend/dist")
    if page.is_dir():
        env["FRONTEND_DIR"] = str(page.resolve())
    return env


def _supervise(settings: Settings, env: dict[str, str], embedded: bool) -> int:
    children = [
        subprocess.Popen([sys.executable, "-m", "countq", role], env=env)
        for role in ("producer", "consumer")
    ]
    stopping: list[int] = []

    def _stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    port, consumer_port = settings.http_port, int(env["CONSUMER_PORT"])
    urls = [f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{consumer_port}/metrics"]
    while not stopping and not all(answers(url) for url in urls):
        if any(child.poll() is not None for child in children):
            break  # one failed to start: fall through and stop the other
        time.sleep(0.2)
    if not stopping and all(child.poll() is None for child in children):
        print(_banner(settings, embedded, consumer_port), flush=True)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    failed = [child.returncode for child in children if child.poll()]
    _stop_all(children)
    return 0 if stopping else (failed[0] if failed else 1)


def _banner(settings: Settings, embedded: bool, consumer_port: int) -> str:
    redis_where = "embedded" if embedded else settings.effective_redis_url().split("@")[-1]
    db_where = "SQLite" if settings.database_embedded else "MySQL"
    port = settings.http_port
    return (
        f"\ncountq is up (Redis: {redis_where}, database: {db_where})\n"
        f"  page + API   http://localhost:{port}/\n"
        f"  API docs     http://localhost:{port}/docs\n"
        f"  consumer     http://localhost:{consumer_port}/metrics\n"
        "Ctrl-C stops everything.\n"
    )


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
