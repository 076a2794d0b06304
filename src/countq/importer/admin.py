"""MySQL administration for the importer, through PyMySQL as the master user: the
connection, the database, the application's user, and the lock that keeps two
importer runs from working on one database at once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pymysql

from countq.config import Settings
from countq.db import locks
from countq.db.engine import connect_with_login, mysql_login, mysql_tls
from countq.db.locks import named_lock
from countq.db.migrate import create_database_sql, quote_ident
from countq.errors import Busy

log = logging.getLogger(__name__)

APP_PRIVILEGES = "SELECT, INSERT, UPDATE"


def connect(settings: Settings, *, database: str | None = None) -> pymysql.Connection[Any]:
    """A connection as the master user (DB_SECRET_ARN, or MYSQL_USER / MYSQL_PASSWORD)."""
    if not settings.mysql_host:
        raise RuntimeError("MYSQL_HOST is not set")

    def attempt(user: str | None, password: str | None) -> pymysql.Connection[Any]:
        return pymysql.connect(
            host=settings.mysql_host,
            port=settings.mysql_port,
            user=user,
            password=password or "",
            database=database,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=10,
            **mysql_tls(settings),
        )

    return connect_with_login(attempt, mysql_login(settings))


@contextmanager
def exclusive(settings: Settings, timeout_s: float) -> Iterator[None]:
    """Hold the database's importer lock (a MySQL named lock, released with the
    session should this process die); Busy when another run keeps it past `timeout_s`."""
    conn = connect(settings)
    try:
        name = lock_name(settings.mysql_database)
        with conn.cursor() as cur, named_lock(cur, name, timeout_s) as got:
            if not got:
                raise Busy(
                    f"another importer run is working on database {settings.mysql_database}"
                    f" and did not finish within {timeout_s:.0f} s; try again when it has"
                )
            yield
    finally:
        conn.close()


def lock_name(database: str) -> str:
    return locks.lock_name("importer", database)


def ensure_database(settings: Settings) -> None:
    # RDS creates the database named in Terraform, but a fresh server or a
    # renamed MYSQL_DATABASE should not need a manual step.
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(create_database_sql(settings.mysql_database))
    finally:
        conn.close()


def ensure_app_user(
    settings: Settings, username: str, password: str, *, keep: str | None = None
) -> bool:
    """Create or update the app user with exactly APP_PRIVILEGES on the database,
    logging in with `password`, and with `keep` too when given (a rotation's
    old password, still held by running services), else with `password` only.

    Returns whether privileges granted beyond those had to be revoked.
    """
    db = quote_ident(settings.mysql_database)
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (username, password))
            # Setting the password every run is also what repairs one changed by hand.
            _set_passwords(cur, username, password, keep)
            cur.execute(f"GRANT {APP_PRIVILEGES} ON {db}.* TO %s@'%%'", (username,))
            cur.execute("SHOW GRANTS FOR %s@'%%'", (username,))
            revoked = not _grants_are_exact(cur.fetchall(), settings.mysql_database)
            if revoked:
                # Only when something extra was granted by hand: revoking
                # first would leave the running services without access for
                # a moment on every deploy.
                cur.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@'%%'", (username,))
                cur.execute(f"GRANT {APP_PRIVILEGES} ON {db}.* TO %s@'%%'", (username,))
        conn.commit()
    finally:
        conn.close()
    extra = " (extra privileges revoked)" if revoked else ""
    log.info("app user %s has %s on %s%s", username, APP_PRIVILEGES, db, extra)
    return revoked


def _set_passwords(cur: Any, username: str, password: str, keep: str | None) -> None:
    cur.execute("SELECT VERSION()")
    (version,) = cur.fetchone()
    user = (username,)
    if "MariaDB" in str(version):
        if keep is None:
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (*user, password))
        else:  # MariaDB has no secondary password, but an account may have two ways in
            cur.execute(
                "ALTER USER %s@'%%' IDENTIFIED VIA mysql_native_password USING PASSWORD(%s)"
                " OR mysql_native_password USING PASSWORD(%s)",
                (*user, password, keep),
            )
    elif keep is None:  # MySQL 8 (RDS): its primary and secondary passwords
        cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (*user, password))
        cur.execute("ALTER USER %s@'%%' DISCARD OLD PASSWORD", user)
    else:
        # RETAIN keeps whatever is primary now; making that `keep` first makes
        # a repeated run end the same way.
        cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (*user, keep))
        cur.execute(
            "ALTER USER %s@'%%' IDENTIFIED BY %s RETAIN CURRENT PASSWORD", (*user, password)
        )


def check_login(settings: Settings, username: str, password: str) -> None:
    """Log in as `username` with `password` to the database, or raise MySQL's refusal."""
    conn = pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=username,
        password=password,
        database=settings.mysql_database,
        connect_timeout=10,
        **mysql_tls(settings),
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()


def _grants_are_exact(rows: Iterable[tuple[Any, ...]], database: str) -> bool:
    wanted = f"GRANT {APP_PRIVILEGES} ON {quote_ident(database)}.*"
    for (grant,) in rows:
        text = str(grant)
        if text.startswith("GRANT USAGE ON *.*"):
            continue
        if not text.startswith(wanted + " TO ") or "WITH GRANT OPTION" in text:
            return False
    return True
