"""The importer: the Lambda inside the private network that can reach RDS.

Two actions, as a Lambda event or as ``countq importer ...``:

- ``{"action": "migrate"}`` creates the database if needed, runs the Alembic
  migrations with the master credentials (DB_SECRET_ARN), then creates or
  updates the application user (APP_DB_SECRET_ARN) with only SELECT, INSERT
  and UPDATE on the application database.
- ``{"action": "import", "bucket": B, "key": K}`` streams an SQL dump from S3
  and runs it statement by statement in one transaction. MySQL commits
  implicitly before and after DDL, so a dump with CREATE TABLE and the like is
  only partly undone on failure; the result says what was committed.

Both return a JSON-able dict {"action", "ok", ...}; secrets are never logged.
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.err import MySQLError, OperationalError

from countq.config import Settings
from countq.secrets import get_secret
from countq.store import mysql_connect_args

log = logging.getLogger("countq.importer")

APP_PRIVILEGES = "SELECT, INSERT, UPDATE"
ACCESS_DENIED = 1045
CHUNK_SIZE = 1 << 20
# Stop before Lambda kills us, so the transaction is rolled back and reported.
TIME_MARGIN_MS = 10_000

# Statements after which MySQL has committed whatever came before (and
# themselves): DDL, account management, locking and explicit transaction control.
_IMPLICIT_COMMIT = frozenset(
    {
        "ALTER",
        "CREATE",
        "DROP",
        "RENAME",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
        "LOCK",
        "UNLOCK",
        "FLUSH",
        "ANALYZE",
        "OPTIMIZE",
        "REPAIR",
        "BEGIN",
        "START",
        "COMMIT",
        "INSTALL",
        "UNINSTALL",
    }
)
_FIRST_WORD = re.compile(r"(?:/\*!\d*\s*)?([A-Za-z]+)")
_ERROR_AT_LINE = re.compile(r"at line (\d+)")


class DumpError(ValueError):
    """The dump itself is malformed (unterminated string, bad DELIMITER, bad text)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


# --- reading -------------------------------------------------------------------------------


def iter_lines(chunks: Iterable[bytes], *, gzipped: bool = False) -> Iterator[str]:
    """Decode byte chunks into lines that keep their line ending.

    Memory stays at one chunk plus one line, whatever the size of the dump.
    """
    inflate = zlib.decompressobj(wbits=47) if gzipped else None  # 47: gzip or zlib header
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pending = ""
    line_no = 1
    for chunk in chunks:
        data = inflate.decompress(chunk) if inflate else chunk
        try:
            text = pending + decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise DumpError(f"not UTF-8 text: {exc.reason}", line_no) from None
        # Only "\n" ends a line, as for the mysql client (a "\r\n" may be cut
        # between chunks; str.splitlines would also split on \u2028 and co.).
        lines = text.split("\n")
        pending = lines.pop()  # the rest of a line the next chunk continues
        line_no += len(lines)
        for line in lines:
            yield line + "\n"
    tail = pending + decoder.decode(inflate.flush() if inflate else b"", final=True)
    if tail:
        yield tail


# --- splitting -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    line: int  # 1-based line of the statement's first character in the dump

    @property
    def commits_implicitly(self) -> bool:
        match = _FIRST_WORD.match(self.sql)
        return match is not None and match.group(1).upper() in _IMPLICIT_COMMIT


_DELIMITER_CMD = re.compile(r"\s*delimiter(?:\s+(\S+)|\s*$)", re.IGNORECASE)
_QUOTE_END = {
    "'": re.compile(r"\\.|'", re.DOTALL),
    '"': re.compile(r'\\.|"', re.DOTALL),
    "`": re.compile(r"`"),
}
_COMMENT_END = re.compile(r"\*/")


def split_statements(lines: Iterable[str]) -> Iterator[Statement]:
    """Split a MySQL dump the way the mysql client does.

    Understands `--`, `#` and `/* */` comments (`/*! */` is executable and kept),
    quoted strings and identifiers with backslash escapes, and the client's
    DELIMITER command. Comments before a statement are dropped so its reported
    line is that of its first token.
    """
    delimiter = ";"
    special = _special_pattern(delimiter)
    buf: list[str] = []
    start = 0  # line of the current statement's first token; 0 while none yet
    state = ""  # "" normal, a quote char, or "*" inside a block comment
    opened_at = 0  # where the current string or comment began, for errors

    for line_no, line in enumerate(lines, start=1):
        pos = 0
        if not state and not start:
            cmd = _DELIMITER_CMD.match(line)
            if cmd:
                if not cmd.group(1):
                    raise DumpError("DELIMITER without a delimiter", line_no)
                delimiter = cmd.group(1)
                special = _special_pattern(delimiter)
                continue
        while pos < len(line):
            if state == "*":
                end = _COMMENT_END.search(line, pos)
                stop = end.end() if end else len(line)
                if start:
                    buf.append(line[pos:stop])
                pos = stop
                if end:
                    state = ""
                continue
            if state:
                end = _QUOTE_END[state].search(line, pos)
                while end and end.group() != state:
                    end = _QUOTE_END[state].search(line, end.end())
                stop = end.end() if end else len(line)
                buf.append(line[pos:stop])
                pos = stop
                if end:
                    state = ""
                continue
            found = special.search(line, pos)
            stop = found.start() if found else len(line)
            text = line[pos:stop]
            if not start and text.strip():
                start = line_no
                text = text.lstrip()
            if start:
                buf.append(text)
            if not found:
                break
            tok = found.group()
            pos = found.end()
            if tok == delimiter:
                if start:
                    yield Statement("".join(buf).strip(), start)
                buf, start = [], 0
            elif tok in ("--", "#"):
                if start:
                    buf.append(tok + line[pos:])
                break
            elif tok == "/*":
                executable = line.startswith(("!", "+"), pos)
                if executable and not start:
                    start = line_no
                if start:
                    buf.append(tok)
                state, opened_at = "*", line_no
            else:  # a quote opens a string or identifier
                if not start:
                    start = line_no
                buf.append(tok)
                state, opened_at = tok, line_no
    if state == "*":
        raise DumpError("unterminated /* comment", opened_at)
    if state:
        raise DumpError(f"unterminated {state} quoted text", opened_at)
    if start:
        yield Statement("".join(buf).strip(), start)


def _special_pattern(delimiter: str) -> re.Pattern[str]:
    # The delimiter comes first so a custom one like `//` or `$$` wins ties.
    return re.compile(re.escape(delimiter) + r"""|['"`]|--(?=\s|$)|#|/\*""")


# --- database ------------------------------------------------------------------------------


def _credentials(settings: Settings, *, refresh: bool = False) -> dict[str, str]:
    if settings.db_secret_arn:
        return get_secret(settings.db_secret_arn, refresh=refresh)
    # Local use of the CLI twin without AWS: the plain settings.
    return {"username": settings.mysql_user, "password": settings.mysql_password}


def connect(settings: Settings, *, database: str | None = None) -> pymysql.Connection[Any]:
    """A PyMySQL connection as the master user; one fresh secret fetch on access denied."""
    if not settings.mysql_host:
        raise RuntimeError("MYSQL_HOST is not set")
    for refresh in (False, True):
        creds = _credentials(settings, refresh=refresh)
        try:
            return pymysql.connect(
                host=settings.mysql_host,
                port=settings.mysql_port,
                user=creds["username"],
                password=creds["password"],
                database=database,
                charset="utf8mb4",
                autocommit=False,
                connect_timeout=10,
                **mysql_connect_args(settings),
            )
        except OperationalError as exc:
            if exc.args[0] != ACCESS_DENIED or refresh or not settings.db_secret_arn:
                raise
            log.warning("access denied with the cached master secret; fetching it again")
    raise AssertionError("unreachable")


def _quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def master_url(settings: Settings) -> str:
    """SQLAlchemy URL for the Alembic run, with the same TLS mode as `connect`."""
    from sqlalchemy.engine import URL

    creds = _credentials(settings)
    query: dict[str, str] = {"charset": "utf8mb4"}
    if settings.mysql_tls:
        if settings.mysql_tls_ca:
            query["ssl_ca"] = settings.mysql_tls_ca
        else:
            query["ssl_check_hostname"] = "false"  # see store.mysql_connect_args: required TLS
    url = URL.create(
        "mysql+pymysql",
        username=creds["username"],
        password=creds["password"],
        host=settings.mysql_host,
        port=settings.mysql_port,
        database=settings.mysql_database,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _grants_are_exact(rows: Iterable[tuple[Any, ...]], database: str) -> bool:
    wanted = f"GRANT {APP_PRIVILEGES} ON {_quote_ident(database)}.*"
    for (grant,) in rows:
        text = str(grant)
        if text.startswith("GRANT USAGE ON *.*"):
            continue
        if not text.startswith(wanted + " TO ") or "WITH GRANT OPTION" in text:
            return False
    return True


def ensure_app_user(settings: Settings, username: str, password: str) -> dict[str, Any]:
    """Create or update the app user with exactly APP_PRIVILEGES on the database."""
    db = _quote_ident(settings.mysql_database)
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (username, password))
            # Updating the password every run is what makes a rotated
            # APP_DB_SECRET_ARN take effect at the next migrate.
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (username, password))
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
    log.info(
        "app user %s has %s on %s%s",
        username,
        APP_PRIVILEGES,
        db,
        " (extra privileges revoked)" if revoked else "",
    )
    return {"user": username, "privileges": APP_PRIVILEGES, "excess_privileges_revoked": revoked}


def ensure_database(settings: Settings) -> None:
    # RDS creates the database named in Terraform, but a fresh server or a
    # renamed MYSQL_DATABASE should not need a manual step.
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {_quote_ident(settings.mysql_database)} "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()


def migrate(settings: Settings) -> dict[str, Any]:
    from countq import store

    app_arn = os.environ.get("APP_DB_SECRET_ARN")
    if not app_arn:
        raise RuntimeError("APP_DB_SECRET_ARN is not set")
    app = get_secret(app_arn)
    ensure_database(settings)
    store.migrate(master_url(settings))
    log.info("migrations applied to %s", settings.mysql_database)
    user = ensure_app_user(settings, app["username"], app["password"])
    return {"action": "migrate", "ok": True, "database": settings.mysql_database, **user}


def run_statements(
    conn: pymysql.Connection[Any],
    statements: Iterable[Statement],
    context: Any = None,
) -> dict[str, Any]:
    """Execute in one transaction; stop at the first failure and roll back."""
    executed = 0
    last_line = 0
    committed_through: int | None = None
    implicit = 0
    with conn.cursor() as cur:
        try:
            conn.begin()
            for stmt in statements:
                last_line = stmt.line
                if (
                    context is not None
                    and hasattr(context, "get_remaining_time_in_millis")
                    and context.get_remaining_time_in_millis() < TIME_MARGIN_MS
                ):
                    raise TimeoutError("Lambda time nearly over; split the dump")
                cur.execute(stmt.sql)
                while cur.nextset():  # drain results of SELECTs or CALLs in the dump
                    pass
                executed += 1
                if stmt.commits_implicitly:
                    implicit += 1
                    committed_through = stmt.line
            conn.commit()
        except (MySQLError, DumpError, TimeoutError) as exc:
            conn.rollback()
            line = exc.line if isinstance(exc, DumpError) else last_line
            error_line = line
            at = _ERROR_AT_LINE.search(str(exc)) if isinstance(exc, MySQLError) else None
            if at:  # MySQL counts lines from the statement's own start
                error_line = line + int(at.group(1)) - 1
            result: dict[str, Any] = {
                "ok": False,
                "line": error_line,
                "statement_line": line,
                "error": str(exc),
                "statements_executed": executed,
                "rolled_back": True,
                "committed_through_line": committed_through,
            }
            if committed_through is not None:
                result["note"] = (
                    f"statements up to line {committed_through} caused implicit commits "
                    "(DDL and the like) and stay applied; everything after was rolled back"
                )
            return result
    result = {
        "ok": True,
        "statements": executed,
        "implicit_commits": implicit,
        "transactional": implicit == 0,
    }
    if implicit:
        result["note"] = (
            f"{implicit} statements (DDL and the like) commit implicitly in MySQL: "
            "a failure would not have undone what came before them"
        )
    return result


def import_dump(settings: Settings, bucket: str, key: str, context: Any = None) -> dict[str, Any]:
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    body = boto3.client("s3", region_name=region).get_object(Bucket=bucket, Key=key)["Body"]
    statements = split_statements(
        iter_lines(body.iter_chunks(CHUNK_SIZE), gzipped=key.endswith(".gz"))
    )
    ensure_database(settings)
    conn = connect(settings, database=settings.mysql_database)
    try:
        result = run_statements(conn, statements, context)
    finally:
        conn.close()
        body.close()
    result = {"action": "import", "bucket": bucket, "key": key, **result}
    if not result["ok"]:
        log.error(
            "import of s3://%s/%s failed at line %s: %s",
            bucket,
            key,
            result["line"],
            result["error"],
        )
    return result


# --- entry points --------------------------------------------------------------------------


def run(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = Settings()
    action = event.get("action")
    try:
        if action == "migrate":
            return migrate(settings)
        if action == "import":
            bucket, key = event.get("bucket"), event.get("key")
            if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
                return {
                    "action": "import",
                    "ok": False,
                    "error": 'import needs "bucket" and "key" strings',
                }
            return import_dump(settings, bucket, key, context)
    except Exception as exc:
        # One clear line in the result and the log; the traceback goes to the log only.
        log.exception("importer action %s failed", action)
        return {"action": action, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "action": action,
        "ok": False,
        "error": 'unknown action; use {"action": "migrate"} or '
        '{"action": "import", "bucket": ..., "key": ...}',
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    if not logging.getLogger().handlers:
        logging.basicConfig()
    logging.getLogger().setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    result = run(event if isinstance(event, dict) else {}, context)
    # One line per invocation that CloudWatch Logs Insights can parse.
    log.info("result %s", json.dumps(result, default=str))
    return result


def main(argv: list[str] | None = None) -> int:
    """`countq importer migrate | import --bucket B --key K`: prints the result as JSON."""
    parser = argparse.ArgumentParser(prog="countq importer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("migrate", help="run migrations and create or update the app user")
    imp = sub.add_parser("import", help="run an SQL dump from S3 (.gz accepted)")
    imp.add_argument("--bucket", required=True)
    imp.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stderr)
    event = {"action": args.action}
    if args.action == "import":
        event.update(bucket=args.bucket, key=args.key)
    result = run(event)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
