"""Connections: the one place for MySQL's TLS mode, logins from a secret, SQLite's
settings, and what a refused connection means to the person who configured it."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from pymysql.err import OperationalError
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from countq.config import Settings
from countq.credentials import Login, retry_refused
from countq.errors import ConfigError

T = TypeVar("T")

# MySQL's error numbers for a login or a database that is not as configured.
ACCESS_DENIED = 1045
DATABASE_ACCESS_DENIED = 1044
UNKNOWN_DATABASE = 1049
CANNOT_CONNECT = 2003
UNKNOWN_HOST = 2005
# OpenSSL's verify codes for a certificate that names another host or address.
X509_HOSTNAME_MISMATCH = 62
X509_IP_ADDRESS_MISMATCH = 64


def mysql_tls(settings: Settings) -> dict[str, Any]:
    """PyMySQL's TLS arguments, said explicitly, for the services and the importer alike.

    A default PyMySQL connection builds a TLS context per connect (loading the
    system's CA store: many times the CPU of the connect itself) and only
    "prefers" TLS. Passing a context makes TLS required. With
    MYSQL_TLS_CA (set in AWS: the RDS CA bundle the image carries) the server
    must show a certificate that chains to that CA and names MYSQL_HOST.
    """
    if not settings.mysql_tls:
        return {"ssl_disabled": True}
    if not settings.mysql_tls_ca:
        # No CA bundle configured: encrypted, but the certificate is not verified.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return {"ssl": context}
    try:
        context = ssl.create_default_context(cafile=settings.mysql_tls_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"MYSQL_TLS_CA={settings.mysql_tls_ca!r} is not a readable CA bundle ({exc})"
        ) from None
    # create_default_context's defaults, stated so that no one relaxes them unseen.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return {"ssl": context}


def mysql_login(settings: Settings) -> Login:
    """DB_SECRET_ARN's username and password when set, else MYSQL_USER / MYSQL_PASSWORD."""
    return Login(settings.db_secret_arn, settings.mysql_user, settings.mysql_password)


def login_refused(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) and exc.args[0] == ACCESS_DENIED


def connect_with_login(connect: Callable[[str | None, str | None], T], login: Login) -> T:
    """`connect(user, password)`; once more with the secret fetched again if MySQL refused it."""
    return retry_refused(lambda: connect(*login.get()), login, login_refused)


def create_engine(settings: Settings, url: str | None = None, pool_size: int = 5) -> Engine:
    """The engine for `url` (default: the configured database)."""
    url = url or settings.effective_database_url()
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    engine = sa.create_engine(
        url,
        connect_args=mysql_tls(settings) if url.startswith("mysql") else {},
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_pre_ping=True,
        pool_timeout=5,
    )
    if settings.db_secret_arn and url.startswith("mysql"):
        login = mysql_login(settings)

        @event.listens_for(engine, "do_connect")
        def _connect(dialect: Any, _rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
            def connect(user: str | None, password: str | None) -> Any:
                return dialect.dbapi.connect(
                    *cargs, **{**cparams, "user": user, "password": password}
                )

            return connect_with_login(connect, login)

    return engine


def _sqlite_engine(url: str) -> Engine:
    ensure_sqlite_dir(url)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _rec: Any) -> None:
        # WAL lets the producer read while the consumer writes.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def misconfiguration(exc: BaseException, settings: Settings) -> ConfigError | None:
    """The one sentence for a person when MySQL refused for a reason they must fix, else None."""
    error = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's exception
    if not isinstance(error, OperationalError):
        return None
    url = make_url(settings.effective_database_url())
    server = f"MySQL at {url.host}:{url.port or 3306}"

    def check(*names: str) -> str:
        return "DATABASE_URL" if settings.database_url else " and ".join(names)

    if refused := certificate_refused(error, settings):
        return ConfigError(f"{server} {refused}")
    code = error.args[0]
    if code in (CANNOT_CONNECT, UNKNOWN_HOST):
        return ConfigError(f"cannot reach {server}: check {check('MYSQL_HOST', 'MYSQL_PORT')}")
    if code == ACCESS_DENIED and settings.db_secret_arn:
        return ConfigError(f"{server} refused the login in DB_SECRET_ARN's secret: check it")
    if code == ACCESS_DENIED:
        names = check("MYSQL_USER", "MYSQL_PASSWORD")
        return ConfigError(f"{server} refused the login of user {url.username!r}: check {names}")
    if code in (UNKNOWN_DATABASE, DATABASE_ACCESS_DENIED):
        return ConfigError(
            f"{server} has no database {url.database!r} that user {url.username!r} may use"
            f" or create: check {check('MYSQL_DATABASE')}, or create it"
        )
    return None


def certificate_refused(error: OperationalError, settings: Settings) -> str | None:
    """Why this client refused the server's certificate, or None if it did not.

    PyMySQL reports a failed TLS handshake as "can't connect" (2003) and keeps
    the ssl module's error beside it; "check MYSQL_HOST" would mislead.
    """
    cause = getattr(error, "original_exception", None)
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    if cause.verify_code in (X509_HOSTNAME_MISMATCH, X509_IP_ADDRESS_MISMATCH):
        return (
            f"presented a certificate for another name ({cause.verify_message}):"
            " set MYSQL_HOST to the name the certificate carries (for RDS, the endpoint)"
        )
    return (
        f"presented a certificate that MYSQL_TLS_CA ({settings.mysql_tls_ca}) does not"
        f" trust ({cause.verify_message}): check MYSQL_TLS_CA"
    )
