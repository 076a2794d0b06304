"""What every benchmark shares: its own database and queue, real processes, the
two measures (wrk against POST /count, a consumer's drain of a prefilled
stream), medians.

Each benchmark creates a MariaDB database and a REDIS_QUEUE of its own, starts
real `countq` (and naive reference) processes on free ports, and removes all
of it on the way out, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pymysql
import redis

from countq.messages import uuid7

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = sys.executable
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LOG_DIR = Path(tempfile.mkdtemp(prefix="countq-bench-"))
CHUNK = 2000  # stream entries per pipeline
# A last-delivered id in the far future keeps the group from handing out the
# entries being prefilled; XGROUP SETID 0 then releases them all at once.
# Deleting the stream instead fails a consumer blocked in XREADGROUP with
# "UNBLOCKED the stream key no longer exists" (Redis 7), which it does not retry.
HOLD_ID = "99999999999999-0"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
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


@functools.cache
def redis_pid() -> int:
    """The Redis server's pid on this host (its CPU counts as countq's work)."""
    return int(redis_client().info("server")["process_id"])


def wrk(port: int, seconds: int, connections: int, pid: int = 0) -> dict[str, float]:
    """One wrk run; requests/s, p50/p99 in ms, failures, server and Redis CPU us
    per request (Redis shares the two cores: countq's work includes its)."""
    cpu0 = cpu_seconds(pid) if pid else 0.0
    redis0 = cpu_seconds(redis_pid())
    out = subprocess.run(
        [
            "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
            "-s", str(BENCH / "post.lua"), f"http://127.0.0.1:{port}/count",
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {q: _ms(re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)) for q in (50, 99)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(bad.group(1)) if bad else 0
    failed += sum(int(g) for g in errors.groups()) if errors else 0
    requests = rps * seconds
    cpu_us = (cpu_seconds(pid) - cpu0) / requests * 1e6 if pid else float("nan")
    redis_us = (cpu_seconds(redis_pid()) - redis0) / requests * 1e6
    return {
        "rps": rps,
        "p50_ms": lat[50],
        "p99_ms": lat[99],
        "failed": failed,
        "cpu_us": cpu_us,
        "redis_cpu_us": redis_us,
    }


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_rounds(
    servers: Sequence[tuple[str, int, int]],
    clear: Callable[[str], object],
    runs: int,
    seconds: int,
    connections: int,
    label: str,
) -> dict[str, list[dict[str, float]]]:
    """Each server's wrk results by name, from `runs` rounds of one run per
    server (name, port, pid), after a warm-up of each. The rounds alternate the
    servers so that drift on the shared machine hits all alike; `clear(name)`
    empties what the server's previous run queued (nothing consumes it here)."""
    for _, port, _ in servers:
        wrk(port, 2, connections)  # warm-up: connections, code paths, pools
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in servers}
    for i in range(runs):
        for name, port, pid in servers:
            clear(name)
            result = wrk(port, seconds, connections, pid)
            results[name].append(result)
            log(
                f"{label} run {i + 1} {name}: "
                f"{result['rps']:,.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                f"p99 {result['p99_ms']:.2f} ms, failed {result['failed']:.0f}, "
                f"server CPU {result['cpu_us']:.0f} us/request, "
                f"Redis {result['redis_cpu_us']:.0f}"
            )
    return results


def medians(results: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each name's median of each figure over its runs."""
    return {
        name: {k: median([run[k] for run in runs]) for k in runs[0]}
        for name, runs in results.items()
    }


def prefill_stream(
    r: redis.Redis,
    key: str,
    n: int,
    group: str,
    fields: Callable[[int, int], dict[str, object]] | None = None,
) -> None:
    """N entries behind a group that does not see them yet (drain_timed releases
    them): as ENQUEUE_LUA writes them, or `fields(i, now_ms)`."""
    try:
        r.xgroup_create(key, group, id="$", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    r.xgroup_setid(key, group, HOLD_ID)
    now_ms = time.time_ns() // 1_000_000
    for start in range(0, n, CHUNK):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(start + CHUNK, n)):
            entry = fields(i, now_ms) if fields else {"id": str(uuid7()), "count": i, "ts": now_ms}
            pipe.xadd(key, entry)  # type: ignore[arg-type]
        pipe.execute()


def reset_store(db: str) -> None:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE TABLE messages")
        cur.execute(
            "UPDATE message_stats SET row_count = 0, last_value = NULL, last_id = NULL,"
            " last_enqueued_ms = NULL, updated_ms = NULL"  # every summary shard
        )
    conn.close()


def stored(db: str, table_name: str = "messages") -> tuple[int, int]:
    conn = mysql(db)
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), COUNT(DISTINCT message_id) FROM {table_name}")  # noqa: S608
        rows, distinct = cur.fetchone()  # type: ignore[misc]
    conn.close()
    return int(rows), int(distinct)


def drain_timed(
    r: redis.Redis, key: str, group: str, db: str, count: int, consumers: Sequence[Proc]
) -> tuple[float, float]:
    """Releases the `count` entries prefill_stream held back and times the
    consumers' drain: the seconds until the stream is empty (an entry is deleted
    only after its row is committed) and the CPU seconds they used meanwhile.
    Every entry must then be stored once."""
    cpu0 = sum(cpu_seconds(proc.popen.pid) for proc in consumers)
    t0 = time.perf_counter()
    r.xgroup_setid(key, group, "0")
    while r.xlen(key) > 0:
        time.sleep(0.005)
        for proc in consumers:
            proc.check_alive()
    elapsed = time.perf_counter() - t0
    used = sum(cpu_seconds(proc.popen.pid) for proc in consumers) - cpu0
    rows, distinct = stored(db)
    if rows != count or distinct != count:
        raise RuntimeError(f"stored {rows} rows ({distinct} distinct) of {count}")
    return elapsed, used


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
