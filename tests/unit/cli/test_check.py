"""`countq check`: the consumer's heartbeat when one runs under DATA_DIR, else the
producer's /health. Files only; nothing listens on the port these tests name."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from countq.cli.check import unhealthy
from countq.config import Settings
from countq.worker.heartbeat import Heartbeat
from tests.helpers.processes import free_port


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, http_port=free_port())


def test_a_fresh_heartbeat_is_healthy_a_stale_one_is_not(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path)
    heartbeat.beat()
    assert unhealthy(settings(tmp_path)) is None
    bound = settings(tmp_path).consumer_stall_s
    old = time.time() - bound - 5
    os.utime(heartbeat.path, (old, old))
    # The age is read when unhealthy() runs: a slow machine may add a second or two.
    said = unhealthy(settings(tmp_path))
    assert said is not None
    match = re.fullmatch(rf"consumer {os.getpid()} silent for (\d+) s", said)
    assert match, said
    assert bound + 5 <= int(match[1]) <= bound + 8, said
    longer = settings(tmp_path).model_copy(update={"consumer_stall_s": bound + 10})
    assert unhealthy(longer) is None  # CONSUMER_STALL_S sets the bound
    heartbeat.stop()
    assert not heartbeat.path.exists()


def test_a_dead_consumers_file_is_ignored(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / f"consumer-{int(dead.stdout)}.alive").touch()
    s = settings(tmp_path)
    assert unhealthy(s) == f"http://127.0.0.1:{s.http_port}/health does not answer 200"


def test_without_a_consumer_the_producers_health_decides(tmp_path: Path) -> None:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = Settings(data_dir=tmp_path, http_port=server.server_address[1])
        assert unhealthy(s) is None
    finally:
        server.shutdown()
        server.server_close()
