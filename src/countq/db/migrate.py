"""Alembic upgrades to the newest revision; `countq migrate` also creates a missing database.

There is no alembic.ini: the revisions live beside this module, in
migrations/versions/, and every caller (the CLI, the importer Lambda, the
tests) passes the connection to upgrade.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from countq.config import Settings
from countq.db.engine import UNKNOWN_DATABASE, create_engine, misconfiguration

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(engine: Engine) -> None:
    """Upgrade the database behind `engine` to the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def create_database_sql(name: str) -> str:
    return (
        f"CREATE DATABASE IF NOT EXISTS {quote_ident(name)}"
        " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )


def migrate(settings: Settings) -> None:
    """`countq migrate`: upgrade the configured database, creating it first when it
    is missing and the user may (as the original compose did through
    MYSQL_DATABASE). A misconfiguration raises ConfigError with one sentence."""
    engine = create_engine(settings, pool_size=1)
    try:
        try:
            upgrade(engine)
        except OperationalError as exc:
            if exc.orig is None or exc.orig.args[0] != UNKNOWN_DATABASE:
                raise
            _create_database(settings)
            upgrade(engine)
    except OperationalError as exc:
        raise (misconfiguration(exc, settings) or exc) from None
    finally:
        engine.dispose()
    log.info("database at head")


def _create_database(settings: Settings) -> None:
    url = make_url(settings.effective_database_url())
    server = create_engine(settings, url.set(database="").render_as_string(hide_password=False))
    try:
        with server.begin() as conn:
            conn.exec_driver_sql(create_database_sql(str(url.database)))
    finally:
        server.dispose()
    log.info("created database %s on %s:%s", url.database, url.host, url.port or 3306)
