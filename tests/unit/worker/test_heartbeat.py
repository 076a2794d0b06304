"""The consumer's heartbeat file (what `countq check` reads: tests/unit/cli/test_check.py)."""

from __future__ import annotations

import os
from pathlib import Path

from countq.worker.heartbeat import Heartbeat, ages


def test_beats_touch_the_file_at_most_once_a_second(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path)
    heartbeat.beat()
    os.utime(heartbeat.path, (0, 0))
    heartbeat.beat()  # within the second: no write
    assert heartbeat.path.stat().st_mtime == 0


def test_ages_are_by_pid_and_a_stopped_heartbeat_is_gone(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path)
    heartbeat.beat()
    os.utime(heartbeat.path, (0, 0))
    ((pid, age),) = ages(tmp_path).items()
    assert pid == os.getpid() and age > 1e9  # touched at the epoch
    heartbeat.stop()
    assert ages(tmp_path) == {}
