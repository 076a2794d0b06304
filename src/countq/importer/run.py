"""The importer's two actions, each under the database's importer lock so that two
runs never interleave:

- provision: create the database if needed, run the Alembic migrations as the
  master user (DB_SECRET_ARN), then create or update the application's user
  (APP_DB_SECRET_ARN) with only SELECT, INSERT and UPDATE on the database,
  promoting a pending (rotated) password of its secret (rotation.py);
- maintain: the retention step (countq.db.retention) as the master user, who
  may ALTER and DROP partitions; an EventBridge schedule invokes it. The
  result says how many days of partitions exist ahead (`horizon_days`), and
  the Lambda handler raises when it failed (handler.py says why);
- import: stream an SQL dump from S3 and run it statement by statement in one
  transaction. MySQL commits implicitly before and after DDL, so a dump with
  CREATE TABLE and the like is only partly undone on failure; the result
  says what was committed.

Each returns a result (a dataclass, JSON through `as_json`); secrets are never logged.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pymysql
from pymysql.err import MySQLError
from sqlalchemy.engine import Engine

from countq import aws
from countq.config import Settings
from countq.db.engine import create_engine
from countq.db.migrate import upgrade
from countq.errors import DumpError
from countq.importer import admin, rotation
from countq.importer.dump import Statement, iter_lines, split_statements

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
# Stop before Lambda kills us, so the transaction is rolled back and reported.
TIME_MARGIN_MS = 10_000
# How long a run waits for another to finish with the database.
LOCK_TIMEOUT_S = 60.0
# "migrate" was the action's first name; kept so older callers keep working.
PROVISION = ("provision", "migrate")
_ERROR_AT_LINE = re.compile(r"at line (\d+)")

TimeLeft = Callable[[], float]
"""Milliseconds left before the run is stopped from outside (the Lambda's limit)."""


def unlimited() -> float:
    return math.inf


@dataclass
class Result:
    action: Any
    ok: bool

    def as_json(self) -> dict[str, Any]:
        """The result as a JSON-able dict; a note appears only when there is one."""
        return {k: v for k, v in asdict(self).items() if not (k == "note" and v is None)}


@dataclass
class Failed(Result):
    error: str


@dataclass
class Provisioned(Result):
    database: str
    user: str
    privileges: str
    excess_privileges_revoked: bool
    password_rotated: bool


@dataclass
class Imported(Result):
    bucket: str
    key: str
    statements: int
    implicit_commits: int
    transactional: bool
    note: str | None = None


@dataclass
class Maintained(Result):
    ran: bool
    created: list[str]
    dropped: dict[str, int]
    deleted: int
    mended: str | None
    horizon_days: float | None
    """Days from now to the end of the last day partition (None on SQLite, which has none)."""


@dataclass
class ImportFailed(Result):
    bucket: str
    key: str
    line: int
    statement_line: int
    error: str
    statements_executed: int
    rolled_back: bool
    committed_through_line: int | None
    note: str | None = None


def run(event: dict[str, Any], time_left: TimeLeft = unlimited) -> Result:
    """One action, as a Lambda event or the CLI gives it; every failure is a Failed result."""
    settings = Settings()
    action = event.get("action")
    try:
        if action in PROVISION:
            return provision(settings, action)
        if action == "maintain":
            return maintain(settings)
        if action == "import":
            bucket, key = event.get("bucket"), event.get("key")
            if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
                return Failed(action, False, 'import needs "bucket" and "key" strings')
            return import_dump(settings, bucket, key, time_left)
    except Exception as exc:
        # One clear line in the result and the log; the traceback goes to the log only.
        log.exception("importer action %s failed", action)
        return Failed(action, False, f"{type(exc).__name__}: {exc}")
    usage = (
        '{"action": "provision"}, {"action": "maintain"}'
        ' or {"action": "import", "bucket": ..., "key": ...}'
    )
    return Failed(action, False, f"unknown action; use {usage}")


def provision(settings: Settings, action: str = "provision") -> Provisioned:
    app_arn = settings.app_db_secret_arn
    if not app_arn:
        raise RuntimeError("APP_DB_SECRET_ARN is not set")
    with admin.exclusive(settings, LOCK_TIMEOUT_S):
        admin.ensure_database(settings)
        # The same MySQL settings as the admin connection, never a DATABASE_URL.
        engine = create_engine(settings.model_copy(update={"database_url": None}), pool_size=1)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        log.info("migrations applied to %s", settings.mysql_database)
        app = rotation.settle(settings, app_arn)
    return Provisioned(
        action,
        True,
        settings.mysql_database,
        app.username,
        admin.APP_PRIVILEGES,
        app.excess_privileges_revoked,
        app.rotated,
    )


def maintain(settings: Settings) -> Maintained:
    """Partitions ahead and RETENTION_DAYS, as the master user (its own named lock)."""
    from countq.db import retention

    # The same MySQL settings as the admin connection, never a DATABASE_URL.
    admin_settings = settings.model_copy(update={"database_url": None})
    done = retention.run(admin_settings)
    engine = create_engine(admin_settings, pool_size=1)
    try:
        horizon = horizon_days(engine)
    finally:
        engine.dispose()
    return Maintained(
        "maintain", True, done.ran, done.created, done.dropped, done.deleted, done.mended, horizon
    )


def horizon_days(engine: Engine, now_ms: int | None = None) -> float | None:
    """How far ahead the day partitions reach, in days from now (MySQL only).

    Read after every run, also one that found another holding the lock: it is
    what the partition horizon alarm watches. Below zero, new rows already land
    in `pfuture`, which a later split copies under lock."""
    from countq.db.retention import DAY_MS, partitions

    if engine.dialect.name != "mysql":
        return None
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    raw = engine.raw_connection()
    try:
        bounds = [b for _, b in partitions(raw.cursor()) if b is not None]
    finally:
        raw.close()
    return round((max(bounds) - now_ms) / DAY_MS, 3)


def import_dump(
    settings: Settings, bucket: str, key: str, time_left: TimeLeft = unlimited
) -> Imported | ImportFailed:
    with admin.exclusive(settings, LOCK_TIMEOUT_S):
        body = aws.client("s3", settings).get_object(Bucket=bucket, Key=key)["Body"]
        chunks = iter_lines(body.iter_chunks(CHUNK_SIZE), gzipped=key.endswith(".gz"))
        admin.ensure_database(settings)
        conn = admin.connect(settings, database=settings.mysql_database)
        try:
            result = run_statements(conn, split_statements(chunks), time_left, bucket, key)
        finally:
            conn.close()
            body.close()
    if isinstance(result, ImportFailed):
        log.error(
            "import of s3://%s/%s failed at line %s: %s", bucket, key, result.line, result.error
        )
    return result


@dataclass
class _Progress:
    executed: int = 0
    last_line: int = 0
    implicit: int = 0
    committed_through: int | None = None


def run_statements(
    conn: pymysql.Connection[Any],
    statements: Iterable[Statement],
    time_left: TimeLeft,
    bucket: str,
    key: str,
) -> Imported | ImportFailed:
    """Execute in one transaction; stop at the first failure and roll back."""
    progress = _Progress()
    try:
        _execute(conn, statements, time_left, progress)
    except (MySQLError, DumpError, TimeoutError) as exc:
        conn.rollback()
        return _failed(exc, progress, bucket, key)
    note = None
    if progress.implicit:
        note = (
            f"{progress.implicit} statements (DDL and the like) commit implicitly in MySQL: "
            "a failure would not have undone what came before them"
        )
    transactional = progress.implicit == 0
    return Imported(
        "import", True, bucket, key, progress.executed, progress.implicit, transactional, note
    )


def _execute(
    conn: pymysql.Connection[Any],
    statements: Iterable[Statement],
    time_left: TimeLeft,
    progress: _Progress,
) -> None:
    with conn.cursor() as cur:
        conn.begin()
        for stmt in statements:
            progress.last_line = stmt.line
            if time_left() < TIME_MARGIN_MS:
                raise TimeoutError("Lambda time nearly over; split the dump")
            cur.execute(stmt.sql)
            while cur.nextset():  # drain results of SELECTs or CALLs in the dump
                pass
            progress.executed += 1
            if stmt.commits_implicitly:
                progress.implicit += 1
                progress.committed_through = stmt.line
        conn.commit()


def _failed(exc: Exception, progress: _Progress, bucket: str, key: str) -> ImportFailed:
    line = exc.line if isinstance(exc, DumpError) else progress.last_line
    error_line = line
    at = _ERROR_AT_LINE.search(str(exc)) if isinstance(exc, MySQLError) else None
    if at:  # MySQL counts lines from the statement's own start
        error_line = line + int(at.group(1)) - 1
    note = None
    if progress.committed_through is not None:
        note = (
            f"statements up to line {progress.committed_through} caused implicit commits "
            "(DDL and the like) and stay applied; everything after was rolled back"
        )
    return ImportFailed(
        "import",
        False,
        bucket,
        key,
        line=error_line,
        statement_line=line,
        error=str(exc),
        statements_executed=progress.executed,
        rolled_back=True,
        committed_through_line=progress.committed_through,
        note=note,
    )
