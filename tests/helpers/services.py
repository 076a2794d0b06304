"""Where the test services are, and the one rule for anything missing.

MariaDB and Redis run on 127.0.0.1 on every development and CI machine;
TEST_MYSQL_HOST / TEST_MYSQL_PORT / TEST_REDIS_URL point the tests elsewhere.
A missing tool or service skips the test on a laptop and fails it under
CI=true, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MYSQL: dict[str, Any] = {
    "host": os.environ.get("TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("TEST_MYSQL_PORT", "3306")),
    "user": "root",
    "password": "",
}
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def mysql_url(database: str) -> str:
    """SQLAlchemy URL of `database` on the test MariaDB, as root."""
    return f"mysql+pymysql://root:@{MYSQL['host']}:{MYSQL['port']}/{database}?charset=utf8mb4"


def missing(message: str) -> NoReturn:
    """Skip, or fail under CI: the one rule for a missing tool or service."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """Path of a binary (on PATH or in .venv/bin)."""
    path = shutil.which(name) or shutil.which(name, path=str(ROOT / ".venv" / "bin"))
    if path:
        return path
    missing(f"{name} is not installed (make test installs it)")


def require_service(check: Callable[[], object], what: str) -> None:
    """Run `check`; a failure means the service is not there."""
    try:
        check()
    except Exception as exc:
        missing(f"{what} is not reachable: {exc} (.ci/run starts it)")


def require_mysql() -> None:
    import pymysql

    require_service(
        lambda: pymysql.connect(**MYSQL).close(), f"MariaDB on {MYSQL['host']}:{MYSQL['port']}"
    )


def require_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        require_service(client.ping, f"Redis at {REDIS_URL}")
    finally:
        client.close()
