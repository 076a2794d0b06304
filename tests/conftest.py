"""Shared fixtures: the real MariaDB and Redis on 127.0.0.1, fresh per test.

Each test gets its own database and its own REDIS_QUEUE (so its own keys);
nothing is shared between tests except the two servers.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pymysql
import pytest
import redis

from countq import store
from countq.config import Settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REDIS_URL = "redis://127.0.0.1:6379/0"


def require_tool(name: str) -> str:
    """Path of a binary; a missing one fails under CI and skips elsewhere."""
    path = shutil.which(name) or shutil.which(name, path=str(ROOT / ".venv" / "bin"))
    if path:
        return path
    message = f"{name} is not installed (make test installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _require_service(check: object, what: str) -> None:
    try:
        check()  # type: ignore[operator]
    except Exception as exc:
        message = f"{what} is not reachable: {exc} (.ci/run starts it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s")


def wait_until(predicate: object, timeout: float = 30.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


@pytest.fixture
def mysql_database() -> Iterator[str]:
    """A fresh, empty MariaDB database; its SQLAlchemy URL."""
    _require_service(lambda: pymysql.connect(**MYSQL).close(), "MariaDB on 127.0.0.1:3306")
    name = f"countq_t_{uuid.uuid4().hex[:12]}"
    with pymysql.connect(**MYSQL) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield f"mysql+pymysql://root:@127.0.0.1:3306/{name}?charset=utf8mb4"
    with pymysql.connect(**MYSQL) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """A fresh queue name on the real Redis; its keys are removed afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    _require_service(client.ping, "Redis on 127.0.0.1:6379")
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    client.delete(f"{{{name}}}:stream", f"{{{name}}}:dead")
    client.close()


@pytest.fixture
def settings(mysql_database: str, redis_queue: str, tmp_path: Path) -> Settings:
    """Settings on the real servers, schema migrated."""
    s = Settings(
        database_url=mysql_database,
        redis_url=REDIS_URL,
        redis_queue=redis_queue,
        data_dir=tmp_path,
        claim_idle_ms=500,
    )
    store.migrate(mysql_database)
    return s


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that makes a child process see the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "MYSQL_"))}
    env.update(
        DATABASE_URL=s.effective_database_url(),
        REDIS_URL=s.effective_redis_url(),
        REDIS_QUEUE=s.redis_queue,
        REDIS_CLUSTER=str(s.redis_cluster).lower(),
        DATA_DIR=str(s.data_dir),
        CLAIM_IDLE_MS=str(s.claim_idle_ms),
        MAX_BACKLOG=str(s.max_backlog),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_countq(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "countq", command], env=env, stdout=out, stderr=out, cwd=ROOT
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


@dataclass
class LiveStack:
    """Real `countq producer` and `countq consumer` processes on the real servers."""

    settings: Settings
    env: dict[str, str]
    port: int
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_producer(self) -> None:
        env = {**self.env, "HTTP_PORT": str(self.port)}
        self.procs["producer"] = start_countq("producer", env, self.logs / "producer.log")
        wait_http(f"{self.url}/health", proc=self.procs["producer"])

    def stop_producer(self) -> None:
        stop(self.procs.pop("producer"))

    def start_consumer(self) -> None:
        port = free_port()
        env = {**self.env, "HTTP_PORT": str(port)}
        self.procs["consumer"] = start_countq("consumer", env, self.logs / "consumer.log")
        wait_http(f"http://127.0.0.1:{port}/health", proc=self.procs["consumer"])

    def stop_all(self) -> None:
        for name in list(self.procs):
            stop(self.procs.pop(name))


@pytest.fixture
def live_stack(settings: Settings, tmp_path: Path) -> Iterator[LiveStack]:
    env = settings_env(settings)
    frontend = ROOT / "frontend" / "dist"
    if frontend.is_dir():
        env["FRONTEND_DIR"] = str(frontend)
    stack = LiveStack(settings, env, free_port(), tmp_path)
    try:
        stack.start_producer()
        stack.start_consumer()
        yield stack
    finally:
        stack.stop_all()
