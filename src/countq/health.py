"""Liveness, for the container health check `countq check` (producer and consumer alike).

The consumer touches a heartbeat file under DATA_DIR whenever its loop turns
(read, store and ack all answered; an empty stream turns it every
CONSUMER_BLOCK_MS), never while it retries an outage: a consumer silent for
CONSUMER_STALL_S is stuck or cut off, and replacing it loses nothing (what it
holds stays pending). The producer answers GET /health on HTTP_PORT. So
`countq check` needs no argument: where a consumer runs under this DATA_DIR,
its heartbeat decides; elsewhere, the producer's /health does.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
from pathlib import Path

from countq.config import Settings

BEAT_EVERY_S = 1.0


class Heartbeat:
    """The consumer's sign of life: a file named for its process, touched at most once a second."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / f"consumer-{os.getpid()}.alive"
        self._next = 0.0

    def beat(self) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + BEAT_EVERY_S
            self.path.touch()

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (our http URLs)
            return bool(response.status == 200)
    except OSError:
        return False


def check(settings: Settings) -> str | None:
    """None when healthy, else why not, in one line."""
    ages = _consumer_heartbeats(settings.data_dir)
    if ages:
        stuck = [
            f"consumer {pid} silent for {age:.0f} s"
            for pid, age in ages.items()
            if age >= settings.consumer_stall_s
        ]
        return "; ".join(stuck) or None
    url = f"http://127.0.0.1:{settings.http_port}/health"
    return None if answers(url) else f"{url} does not answer 200"


def _consumer_heartbeats(data_dir: Path) -> dict[int, float]:
    """The age of each running consumer's heartbeat; a dead process's file is left over."""
    ages = {}
    for path in data_dir.glob("consumer-*.alive"):
        pid = int(path.stem.removeprefix("consumer-"))
        if _running(pid):
            with contextlib.suppress(FileNotFoundError):  # it stopped meanwhile
                ages[pid] = time.time() - path.stat().st_mtime
    return ages


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running, as another user
        return True
    return True
