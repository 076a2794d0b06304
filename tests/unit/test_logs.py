"""LOG_FORMAT: plain lines by default (a terminal), JSON lines with
LOG_FORMAT=json (AWS), from the real CLI and from uvicorn's own loggers."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from countq import logs
from tests.helpers.processes import free_port, stop, wait_http
from tests.helpers.services import ROOT


def run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The embedded defaults (SQLite, embedded Redis) in tmp_path: no server needed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "MYSQL_", "LOG_"))}
    env.pop("DATABASE_URL", None)
    return {**env, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "INFO", **extra}


def migrate(tmp_path: Path, **extra: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "countq", "migrate"],
        env=run_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    return result.stderr.splitlines()


def test_plain_lines_by_default(tmp_path: Path) -> None:
    lines = migrate(tmp_path)
    assert any(re.search(r" INFO countq\.db\.migrate database at head$", line) for line in lines)
    assert not any(line.startswith("{") for line in lines)


def test_json_lines_with_log_format_json(tmp_path: Path) -> None:
    records = [json.loads(line) for line in migrate(tmp_path, LOG_FORMAT="json")]
    (at_head,) = [r for r in records if r["message"] == "database at head"]
    assert at_head["level"] == "INFO"
    assert at_head["logger"] == "countq.db.migrate"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", at_head["time"])


def test_an_unknown_log_format_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "countq", "migrate"],
        env=run_env(tmp_path, LOG_FORMAT="xml"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("countq: LOG_FORMAT='xml':")


def test_uvicorn_logs_json_too(tmp_path: Path) -> None:
    """The producer's uvicorn lines (its own loggers) come through the same formatter."""
    port = free_port()
    log = tmp_path / "producer.log"
    env = run_env(tmp_path, LOG_FORMAT="json", HTTP_PORT=str(port))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "countq", "producer"], env=env, stdout=out, stderr=out, cwd=ROOT
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
    finally:
        stop(proc)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(
        r["logger"] == "uvicorn.error" and r["message"].startswith("Uvicorn running on")
        for r in records
    ), records


def test_ids_and_exceptions_become_json_fields() -> None:
    """What the consumer passes as `extra` (entry, message and batch ids) is
    queryable as fields of its own."""
    record = logging.LogRecord("countq.queue.consumer", logging.WARNING, __file__, 1,
                               "dead-lettered entry %s: %s", ("1-0", "bad"), None)  # fmt: skip
    record.entry_id, record.message_id = "1-0", "0190a0b2-0000-7000-8000-000000000000"
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    fields = json.loads(logs.formatter("json").format(record))
    assert fields["message"] == "dead-lettered entry 1-0: bad"
    assert fields["level"] == "WARNING" and fields["logger"] == "countq.queue.consumer"
    assert fields["entry_id"] == "1-0"
    assert fields["message_id"] == "0190a0b2-0000-7000-8000-000000000000"
    assert "ValueError: boom" in fields["exc_info"]


def test_the_importer_logs_json_lines_under_lambda(tmp_path: Path) -> None:
    """The Lambda runtime installs its own plain handler before the function runs;
    the importer replaces it with the services' configuration, from Settings."""
    code = (
        "import logging; logging.basicConfig(format='[%(levelname)s] %(message)s');"
        " from countq.importer.handler import handler;"
        " handler({'action': 'no-such-action'}, None)"
    )
    env = run_env(tmp_path, LOG_FORMAT="json", AWS_LAMBDA_FUNCTION_NAME="countq-test-importer")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    records = [json.loads(line) for line in result.stderr.splitlines()]
    (done,) = [r for r in records if r["message"].startswith("result ")]
    assert done["level"] == "INFO"
    assert done["logger"] == "countq.importer"
    assert json.loads(done["message"].removeprefix("result "))["ok"] is False
