"""The consumer's sign of life, which `countq check` reads (countq.cli.check).

The consumer touches a heartbeat file under DATA_DIR whenever its loop turns
(read, store and ack all answered; an empty stream turns it every
CONSUMER_BLOCK_MS), never while it retries an outage: a consumer silent for
CONSUMER_STALL_S is stuck or cut off, and replacing it loses nothing (what it
holds stays pending).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

BEAT_EVERY_S = 1.0


class Heartbeat:
    """A file named for the consumer's process, touched at most once a second."""

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


def ages(data_dir: Path) -> dict[int, float]:
    """The age in seconds of each running consumer's heartbeat, by pid; a dead
    process's file is left over and not counted."""
    found = {}
    for path in data_dir.glob("consumer-*.alive"):
        pid = int(path.stem.removeprefix("consumer-"))
        if _running(pid):
            with contextlib.suppress(FileNotFoundError):  # it stopped meanwhile
                found[pid] = time.time() - path.stat().st_mtime
    return found


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running, as another user
        return True
    return True
