"""What every benchmark shares: its own database and queue, real processes, medians.

Each benchmark creates a MariaDB database and a REDIS_QUEUE of its own, starts
real `countq` (and naive reference) processes on free ports, and removes all
of it on the way out, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pymysql
import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = sys.executable
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LOG_DIR = Path(tempfile.mkdtemp(prefix="countq-bench-"))
# A dying child's log tail is printed when it is noticed (Proc.check_alive).
atexit.register(shutil.rmtree, LOG_DIR, ignore_errors=True)


def _on_sigterm(_signum: int, _frame: Any) -> None:
    # Turn SIGTERM into an exception so the `with` blocks stop what they started.
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _on_sigterm)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mysql(database: str | None = None, autocommit: bool = True) -> pymysql.Connection[Any]:
    return pymysql.connect(
        **MYSQL, database=database, autocommit=autocommit, ssl_disabled=True, charset="utf8mb4"
    )


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


@contextlib.contextmanager
def database(tag: str) -> Iterator[str]:
    """A fresh, migrated database; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"countq_bench_{tag}_{os.getpid()}"
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
    url = f"mysql+pymysql://root:@127.0.0.1:3306/{name}?charset=utf8mb4"
    try:
        subprocess.run(
            [PY, "-m", "countq", "migrate"], env=countq_env(url, "unused", 0), check=True
        )
        yield url
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


@contextlib.contextmanager
def redis_queue(tag: str) -> Iterator[str]:
    """A REDIS_QUEUE name of our own; its keys are deleted afterwards."""
    name = f"bench-{tag}-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        r = redis_client()
        keys = list(r.scan_iter(match=f"{{{name}}}*")) + list(r.scan_iter(match=f"{name}*"))
        if keys:
            r.delete(*keys)
        r.close()


def countq_env(db_url: str, queue: str, port: int, **extra: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "MYSQL_"))}
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=REDIS_URL,
        REDIS_QUEUE=queue,
        HTTP_PORT=str(port),  # the producer's
        CONSUMER_PORT=str(port),  # the consumer's (/metrics)
        LOG_LEVEL="WARNING",
        MAX_BACKLOG="100000000",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Proc:
    """A child process whose output goes to a log file (printed if it dies)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = LOG_DIR / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(argv), env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            sys.stderr.write(self.log.read_text(errors="replace")[-4000:])
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=12)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants.

    On a machine shared with other work, wall-clock rates move with the load;
    CPU per request or per message moves much less, so the scripts print both.
    """
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICKS
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass  # it exited meanwhile
    return total


_TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def processes() -> Iterator[list[Proc]]:
    """Collects started processes and stops every one of them on the way out."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            proc.stop()


def wait_http(proc: Proc, port: int, path: str = "/health", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {path} on port {port} in {timeout}s")


def start_countq(
    started: list[Proc], role: str, db_url: str, queue: str, **extra: object
) -> tuple[Proc, int]:
    port = free_port()
    proc = Proc(
        f"countq-{role}", [PY, "-m", "countq", role], countq_env(db_url, queue, port, **extra)
    )
    started.append(proc)
    wait_http(proc, port, "/health" if role == "producer" else "/metrics")
    return proc, port


def start_naive_http(
    started: list[Proc], app: str, db_url: str, queue: str, workers: int = 1
) -> tuple[Proc, int]:
    """The naive reference app, served by uvicorn exactly as countq's producer is."""
    return start_reference_http(started, f"naive_producer:{app}", db_url, queue, workers)


def start_reference_http(
    started: list[Proc], app: str, db_url: str, queue: str, workers: int = 1
) -> tuple[Proc, int]:
    """A reference ASGI app of bench/ ("module:attribute"), served by uvicorn
    exactly as countq's producer is."""
    port = free_port()
    argv = [
        PY, "-m", "uvicorn", app, "--app-dir", str(BENCH),
        "--host", "0.0.0.0", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = Proc(app.replace(":", "-"), argv, countq_env(db_url, queue, port))
    started.append(proc)
    wait_http(proc, port)
    return proc, port


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an unsorted sequence."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return float(ordered[min(rank, len(ordered)) - 1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def fmt(value: float, unit: str = "") -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for i, row in enumerate([header, *rows]):
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def save(path: Path | None, name: str, figures: dict[str, Any]) -> None:
    if path is None:
        return
    existing = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    existing[name] = figures
    path.write_text(json.dumps(existing, indent=2) + "\n")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@contextlib.contextmanager
def primary_with_replicas(replicas: int) -> Iterator[str]:
    """A private redis-server primary with `replicas` replicas in sync; its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is missing")
    ports = [free_port() for _ in range(replicas + 1)]
    with tempfile.TemporaryDirectory() as tmp, processes() as started:
        for i, port in enumerate(ports):
            argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", tmp, "--dbfilename", f"{port}.rdb"]  # fmt: skip
            if i:
                argv += ["--replicaof", "127.0.0.1", str(ports[0])]
            started.append(Proc(f"redis-{port}", argv, {}))
        primary = redis.Redis(port=ports[0])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if primary.info("replication")["connected_slaves"] == replicas:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{replicas} replicas did not attach in 30 s")
        yield f"redis://127.0.0.1:{ports[0]}/0"
