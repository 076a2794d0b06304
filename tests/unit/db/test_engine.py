"""The one sentence for a MySQL that refuses for a reason of configuration, and
for a setting outside the bounds Settings gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pymysql.err import OperationalError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from countq.config import Settings
from countq.db.engine import misconfiguration

MYSQL = Settings(mysql_host="db.example", mysql_port=3307, mysql_user="app", mysql_database="cq")


@pytest.mark.parametrize(
    ("code", "settings", "sentence"),
    [
        (2003, MYSQL, "cannot reach MySQL at db.example:3307: check MYSQL_HOST and MYSQL_PORT"),
        (
            1045,
            MYSQL,
            "MySQL at db.example:3307 refused the login of user 'app':"
            " check MYSQL_USER and MYSQL_PASSWORD",
        ),
        (
            1045,
            MYSQL.model_copy(update={"db_secret_arn": "arn:secret"}),
            "MySQL at db.example:3307 refused the login in DB_SECRET_ARN's secret: check it",
        ),
        (
            1049,
            MYSQL,
            "MySQL at db.example:3307 has no database 'cq' that user 'app' may use or create:"
            " check MYSQL_DATABASE, or create it",
        ),
        (
            2003,
            Settings(database_url="mysql+pymysql://u:p@h:1/d"),
            "cannot reach MySQL at h:1: check DATABASE_URL",
        ),
    ],
)
def test_sentences(code: int, settings: Settings, sentence: str) -> None:
    driver = OperationalError(code, "the server's words")
    wrapped = SQLAlchemyOperationalError("SELECT 1", {}, driver)
    assert str(misconfiguration(driver, settings)) == sentence
    assert str(misconfiguration(wrapped, settings)) == sentence


def test_other_errors_are_not_misconfigurations() -> None:
    assert misconfiguration(OperationalError(1213, "deadlock"), MYSQL) is None
    assert misconfiguration(ValueError("x"), MYSQL) is None


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
