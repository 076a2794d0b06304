"""The test databases: migrating one, counting what it holds, root access."""

from __future__ import annotations

from typing import Any

import pymysql
import sqlalchemy as sa

from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.db.migrate import upgrade
from tests.helpers.services import MYSQL, require_mysql


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest revision."""
    engine = create_engine(Settings(database_url=url), pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def db_rows(settings: Settings) -> tuple[int, int, int]:
    """(rows, distinct ids, summary row_count)."""
    engine = create_engine(settings)
    with engine.connect() as conn:
        rows, distinct = conn.execute(
            sa.text("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM messages")
        ).one()
        summary = repo.read_summary(conn).rows
    engine.dispose()
    return int(rows), int(distinct), summary


def root_connection(database: str | None = None) -> pymysql.Connection[Any]:
    """Root on the test MariaDB, autocommit."""
    require_mysql()
    return pymysql.connect(**MYSQL, database=database, autocommit=True, ssl_disabled=True)
