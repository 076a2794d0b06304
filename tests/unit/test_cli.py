"""The command line's one sentence for a setting outside the bounds Settings gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("WEB_CONCURRENCY", "0", "Input should be greater than or equal to 1"),
        ("MAX_DELIVERIES", "0", "Input should be greater than or equal to 1"),
        ("MAX_BACKLOG", "0", "Input should be greater than or equal to 1"),
        ("HTTP_PORT", "65536", "Input should be less than or equal to 65535"),
        ("CONSUMER_BLOCK_MS", "0", "Input should be greater than 0"),
        ("METRICS_INTERVAL_S", "0", "Input should be greater than 0"),
        ("LOG_LEVEL", "loud", "Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    ],
)
def test_a_setting_out_of_bounds_is_one_line_and_exit_2(
    tmp_path: Path, variable: str, value: str, sentence: str
) -> None:
    """The real CLI, before it starts anything: one line naming the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "MYSQL_", "LOG_"))}
    env.update({"DATA_DIR": str(tmp_path), variable: value})
    result = subprocess.run(
        [sys.executable, "-m", "countq", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"countq: {variable}=")
    assert line.endswith(sentence)
