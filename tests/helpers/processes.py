"""Running real countq processes in tests, and waiting for them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from countq.config import Settings
from tests.helpers.services import ROOT


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


def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


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
        QUEUE_PARTITIONS=str(s.queue_partitions),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_countq(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "countq", command], env=env, stdout=out, stderr=out, cwd=ROOT
        )


def start_consumer(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A `countq consumer` with its metrics on a free port, once that port answers."""
    port = free_port()
    proc = start_countq("consumer", {**env, "CONSUMER_PORT": str(port)}, log)
    wait_http(f"http://127.0.0.1:{port}/metrics", proc=proc)
    return proc


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
        self.procs["consumer"] = start_consumer(self.env, self.logs / "consumer.log")

    def stop_all(self) -> None:
        for name in list(self.procs):
            stop(self.procs.pop(name))
