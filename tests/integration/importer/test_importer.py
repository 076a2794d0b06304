"""The importer Lambda against the real MariaDB, with S3 and Secrets Manager from moto."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pymysql
import pytest

from countq import cli
from countq.config import Settings
from countq.db import retention
from countq.errors import MaintenanceFailed
from countq.importer import run as importer_run
from countq.importer.admin import lock_name
from countq.importer.handler import HORIZON_METRIC, handler
from tests.helpers.database import root_connection
from tests.helpers.importer import Env
from tests.repo.infra.harness import free_port

ER_TABLEACCESS_DENIED = 1142
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_ACCESS_DENIED = 1045


def countq_importer(*argv: str) -> int:
    """`countq importer ...` in this process, past the process-wide logging setup."""
    args = cli.parse(["importer", *argv])
    status: int = args.handler(args, Settings())
    return status


def tables(database: str) -> set[str]:
    conn = root_connection(database)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        names = {row[0] for row in cur.fetchall()}
    conn.close()
    return names


def query(database: str, sql: str) -> list[tuple[object, ...]]:
    conn = root_connection(database)
    with conn.cursor() as cur:
        cur.execute(sql)
        rows = list(cur.fetchall())
    conn.close()
    return rows


def test_migrate_from_empty_and_again(importer_env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    first = handler({"action": "migrate"}, None)
    assert first == {
        "action": "migrate",
        "ok": True,
        "database": importer_env.database,
        "user": importer_env.app_user,
        "privileges": "SELECT, INSERT, UPDATE",
        "excess_privileges_revoked": False,
        "password_rotated": False,
    }
    assert {"messages", "message_stats", "alembic_version"} <= tables(importer_env.database)
    assert query(importer_env.database, "SELECT id, row_count FROM message_stats") == [(1, 0)]

    again = handler({"action": "migrate"}, None)
    assert again == first
    assert query(importer_env.database, "SELECT id, row_count FROM message_stats") == [(1, 0)]

    assert f"app user {importer_env.app_user} has SELECT, INSERT, UPDATE" in caplog.text
    assert '"ok": true' in caplog.text
    password = json.loads(
        importer_env.sm.get_secret_value(SecretId=importer_env.app_arn)["SecretString"]
    )["password"]
    assert password not in caplog.text


def test_app_user_can_insert_and_read_but_not_drop_or_create_users(importer_env: Env) -> None:
    assert handler({"action": "migrate"}, None)["ok"]
    conn = importer_env.app_connection()
    with conn.cursor() as cur:
        cur.execute(
            "INSERT IGNORE INTO messages (message_id, count, enqueued_ms, stored_ms) "
            "VALUES (%s, 42, 1, 2)",
            (uuid.uuid4().bytes,),
        )
        cur.execute("UPDATE message_stats SET row_count = row_count + 1, last_value = 42")
        # A consumer makes its summary shard's row the first time it writes to it.
        cur.execute(
            "INSERT IGNORE INTO message_stats (id, row_count, stored_total) VALUES (7, 0, 0)"
        )
        cur.execute("SELECT count FROM messages")
        assert cur.fetchall() == ((42,),)
        for sql, code in [
            ("DROP TABLE messages", ER_TABLEACCESS_DENIED),
            ("DELETE FROM messages", ER_TABLEACCESS_DENIED),
            ("CREATE TABLE other (id INT)", ER_TABLEACCESS_DENIED),
            ("ALTER TABLE messages DROP PARTITION pbefore", ER_TABLEACCESS_DENIED),
            ("CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'", ER_SPECIFIC_ACCESS_DENIED),
        ]:
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cur.execute(sql)
            assert denied.value.args[0] == code, sql
    conn.close()
    assert query(importer_env.database, "SELECT COUNT(*) FROM messages") == [(1,)]


def test_maintain_runs_retention_as_the_master_user(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app user may not drop partitions (above); the importer's action does."""
    assert handler({"action": "provision"}, None)["ok"]
    with root_connection(importer_env.database) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO messages (message_id, count, enqueued_ms, stored_ms) VALUES (%s, 1, 5, 5)",
            (uuid.uuid4().bytes,),
        )
        cur.execute("UPDATE message_stats SET row_count = 1, stored_total = 1")
    result = handler({"action": "maintain"}, None)
    # The last day partition ends AHEAD_DAYS + 1 day starts after today's.
    assert retention.AHEAD_DAYS <= result.pop("horizon_days") <= retention.AHEAD_DAYS + 1
    assert result == {
        "action": "maintain",
        "ok": True,
        "ran": True,
        "created": [],
        "dropped": {},
        "deleted": 0,
        "mended": None,
    }
    monkeypatch.setenv("RETENTION_DAYS", "1")  # pbefore ends today: kept until tomorrow
    assert handler({"action": "maintain"}, None)["dropped"] == {}
    assert query(importer_env.database, "SELECT row_count, stored_total FROM message_stats") == [
        (1, 1)
    ]


def test_maintain_reports_its_horizon_as_an_embedded_metric(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One EMF line on stdout per run: what the partition horizon alarm watches."""
    monkeypatch.setenv("METRICS_NAMESPACE", "countq-test")
    monkeypatch.setenv("METRICS_ENVIRONMENT", "prod")
    assert handler({"action": "provision"}, None)["ok"]
    capsys.readouterr()
    horizon = handler({"action": "maintain"}, None)["horizon_days"]
    (line,) = capsys.readouterr().out.splitlines()
    emf = json.loads(line)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "countq-test",
        "Dimensions": [["Environment"]],
        "Metrics": [{"Name": HORIZON_METRIC, "Unit": "None"}],
    }
    assert emf["Environment"] == "prod" and emf[HORIZON_METRIC] == horizon
    assert abs(emf["_aws"]["Timestamp"] - time.time() * 1000) < 60_000


def test_failed_maintain_raises_so_lambda_counts_an_error(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A returned ok: false is a successful invocation to Lambda (Errors stays 0,
    no retry); the handler raises instead, with the result as its message."""
    assert handler({"action": "provision"}, None)["ok"]
    monkeypatch.setenv("MYSQL_PORT", str(free_port()))  # the database does not answer
    capsys.readouterr()
    with pytest.raises(MaintenanceFailed) as failed:
        handler({"action": "maintain"}, None)
    result = json.loads(str(failed.value))
    assert result["action"] == "maintain" and result["ok"] is False
    assert "OperationalError" in result["error"]
    assert capsys.readouterr().out == "", "no horizon is reported for a failed run"
    # The shell twin keeps its exit status; provision still answers with its result.
    assert countq_importer("maintain") == 1
    assert handler({"action": "provision"}, None)["ok"] is False


def test_migrate_revokes_privileges_granted_by_hand(importer_env: Env) -> None:
    assert handler({"action": "migrate"}, None)["ok"]
    conn = root_connection()
    with conn.cursor() as cur:
        cur.execute(
            f"GRANT DELETE, DROP ON `{importer_env.database}`.* TO %s@'%%'",
            (importer_env.app_user,),
        )
    conn.close()
    result = handler({"action": "migrate"}, None)
    assert result["ok"] and result["excess_privileges_revoked"] is True
    app = importer_env.app_connection()
    with app.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as denied:
        cur.execute("DELETE FROM messages")
    assert denied.value.args[0] == ER_TABLEACCESS_DENIED
    app.close()


def test_store_runs_as_app_user_and_survives_a_rotation(importer_env: Env) -> None:
    """The service path: store's engine takes the app secret by ARN and refreshes it once."""
    from countq import credentials
    from countq.db import repo
    from countq.db.engine import create_engine
    from countq.messages import Message

    assert handler({"action": "migrate"}, None)["ok"]
    settings = Settings(db_secret_arn=importer_env.app_arn)
    engine = create_engine(settings)
    try:
        msg = Message("1-0", uuid.uuid4().bytes, 7, 1)
        with engine.begin() as conn:
            assert repo.store_batch(conn, [msg]) == 1
        with engine.connect() as conn:
            assert repo.read_summary(conn).rows == 1

        # Rotate: a new password in Secrets Manager, applied to MySQL by migrate.
        # The importer runs in another process in AWS, so it has its own cache.
        new = {"username": importer_env.app_user, "password": "rotated;" + uuid.uuid4().hex}
        importer_env.sm.put_secret_value(
            SecretId=importer_env.app_arn, SecretString=json.dumps(new)
        )
        stale = credentials.get_secret(importer_env.app_arn)
        credentials._cache.pop(importer_env.app_arn)
        assert handler({"action": "migrate"}, None)["ok"]
        credentials._cache[importer_env.app_arn] = stale  # the service still holds the old one
        with pytest.raises(pymysql.err.OperationalError):
            importer_env.app_connection(password=stale["password"])

        engine.dispose()  # new connections from here on, as after the pool recycles
        with engine.begin() as conn:
            assert repo.store_batch(conn, [Message("2-0", uuid.uuid4().bytes, 8, 2)]) == 1
        with engine.connect() as conn:
            summary = repo.read_summary(conn)
        assert (summary.rows, summary.last_value) == (2, 8)
        assert credentials.get_secret(importer_env.app_arn) == new
    finally:
        engine.dispose()


def test_migrate_refetches_a_rotated_master_secret(importer_env: Env) -> None:
    from countq import credentials

    master = "m_" + uuid.uuid4().hex[:10]
    conn = root_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY 'before'", (master,))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (master,))
        importer_env.sm.put_secret_value(
            SecretId=importer_env.master_arn,
            SecretString=json.dumps({"username": master, "password": "before"}),
        )
        assert credentials.get_secret(importer_env.master_arn)["password"] == "before"
        with conn.cursor() as cur:
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY 'after'", (master,))
        importer_env.sm.put_secret_value(
            SecretId=importer_env.master_arn,
            SecretString=json.dumps({"username": master, "password": "after"}),
        )
        assert handler({"action": "migrate"}, None)["ok"]
    finally:
        with conn.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (master,))
        conn.close()


LONG_ROWS = 20_000

GOOD_DUMP = r"""-- dump made by hand, in the shapes mysqldump and people write
/*!40101 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
# a hash comment; with a semicolon
CREATE TABLE items (
  id INT PRIMARY KEY,   -- trailing comment; with semicolon
  name VARCHAR(200) NOT NULL,
  note TEXT
) ENGINE=InnoDB;
/* a block comment ; spanning
   two lines */
INSERT INTO items VALUES (1, 'semi;colon', 'quote '' and \' and -- not a comment'),
(2, "double \" ; quoted", 'multi
line; text # not a comment /* nor this */');
DELIMITER //
CREATE TRIGGER items_bi BEFORE INSERT ON items FOR EACH ROW
BEGIN
  IF NEW.id > 2 THEN SET NEW.note = CONCAT(COALESCE(NEW.note, ''), ';trig'); END IF;
END//
DELIMITER ;
CREATE TABLE `odd;name` (v INT);INSERT INTO `odd;name` VALUES (1);
SELECT COUNT(*) FROM items;  -- a result set to drain
"""


def long_insert() -> str:
    values = ",".join(f"({i}, 'row {i}; it''s \\'ok\\'', NULL)" for i in range(3, 3 + LONG_ROWS))
    # A dump by construction, not a query built from input.
    return f"INSERT INTO items VALUES {values};\n/*!40014 SET FOREIGN_KEY_CHECKS=1 */;\n"  # noqa: S608


def check_good_dump_applied(database: str) -> None:
    assert query(database, "SELECT COUNT(*) FROM items") == [(2 + LONG_ROWS,)]
    assert query(database, "SELECT name, note FROM items WHERE id IN (1, 2) ORDER BY id") == [
        ("semi;colon", "quote ' and ' and -- not a comment"),
        ('double " ; quoted', "multi\nline; text # not a comment /* nor this */"),
    ]
    assert query(database, "SELECT name, note FROM items WHERE id = 1000") == [
        ("row 1000; it's 'ok'", ";trig")
    ]
    assert query(database, "SELECT v FROM `odd;name`") == [(1,)]


def test_import_multi_statement_dump(importer_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks so statements, strings and lines straddle chunk boundaries.
    monkeypatch.setattr(importer_run, "CHUNK_SIZE", 4093)
    importer_env.put_dump("dumps/good.sql", (GOOD_DUMP + long_insert()).encode())

    result = handler({"action": "import", "bucket": "dumps", "key": "dumps/good.sql"}, None)
    assert result["ok"], result
    assert result["statements"] == 10
    assert result["implicit_commits"] == 3 and result["transactional"] is False
    assert "commit implicitly" in result["note"]
    check_good_dump_applied(importer_env.database)


def test_import_gzipped_dump_via_cli(importer_env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    importer_env.put_dump("good.sql.gz", gzip.compress((GOOD_DUMP + long_insert()).encode()))
    assert countq_importer("import", "--bucket", "dumps", "--key", "good.sql.gz") == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    check_good_dump_applied(importer_env.database)


BROKEN_DUMP = """CREATE TABLE t (id INT PRIMARY KEY);
INSERT INTO t VALUES (1);
-- the next statement is broken on its third line
INSERT INTO t VALUES (2),
  (3),
  (4 5);
INSERT INTO t VALUES (6);
"""


def test_broken_dump_reports_its_line_and_rolls_back(importer_env: Env) -> None:
    importer_env.put_dump("broken.sql", BROKEN_DUMP.encode())
    result = handler({"action": "import", "bucket": "dumps", "key": "broken.sql"}, None)
    assert result["ok"] is False
    assert result["line"] == 6 and result["statement_line"] == 4
    assert "syntax" in result["error"]
    assert result["statements_executed"] == 2 and result["rolled_back"] is True
    assert result["committed_through_line"] == 1  # CREATE TABLE committed implicitly
    assert "implicit commits" in result["note"]
    # The INSERT after the DDL was rolled back; nothing after the failure ran.
    assert query(importer_env.database, "SELECT COUNT(*) FROM t") == [(0,)]


def test_failing_statement_in_a_plain_transaction_leaves_nothing(importer_env: Env) -> None:
    conn = root_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{importer_env.database}`")
        cur.execute(f"CREATE TABLE `{importer_env.database}`.t (id INT PRIMARY KEY)")
    conn.close()
    importer_env.put_dump(
        "dup.sql",
        b"INSERT INTO t VALUES (1);\n\nINSERT INTO t VALUES (2);\n"
        b"INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (3);\n",
    )
    result = handler({"action": "import", "bucket": "dumps", "key": "dup.sql"}, None)
    assert result["ok"] is False and result["line"] == 4 and "Duplicate" in result["error"]
    assert result["committed_through_line"] is None and "note" not in result
    assert query(importer_env.database, "SELECT COUNT(*) FROM t") == [(0,)]


def test_unterminated_string_reports_where_it_opened(importer_env: Env) -> None:
    importer_env.put_dump("open.sql", b"CREATE TABLE t (s TEXT);\nINSERT INTO t VALUES ('a;\nb);\n")
    result = handler({"action": "import", "bucket": "dumps", "key": "open.sql"}, None)
    assert result["ok"] is False and result["line"] == 2
    assert "unterminated" in result["error"]


def test_bad_events_get_a_clear_answer(importer_env: Env) -> None:
    assert handler({"action": "import", "bucket": "dumps"}, None) == {
        "action": "import",
        "ok": False,
        "error": 'import needs "bucket" and "key" strings',
    }
    unknown = handler({"action": "drop-everything"}, None)
    assert unknown["ok"] is False and "unknown action" in unknown["error"]
    missing = handler({"action": "import", "bucket": "dumps", "key": "nope.sql"}, None)
    assert missing["ok"] is False and "NoSuchKey" in missing["error"]


def test_tls_is_required_not_preferred(importer_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """MYSQL_TLS=true never falls back to plain text (the MariaDB here has no TLS)."""
    conn = root_connection()
    with conn.cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'have_ssl'")
        have_ssl = cur.fetchone()[1]
    conn.close()
    monkeypatch.setenv("MYSQL_TLS", "true")
    result = handler({"action": "migrate"}, None)
    if have_ssl == "YES":  # a server with TLS: the same run must work, encrypted
        assert result["ok"], result
    else:
        assert result["ok"] is False
        assert "SSL is required but the server doesn't support it" in result["error"]


class LambdaContext:
    """What the Lambda runtime passes: the time left, counting down per call."""

    def __init__(self, *remaining_ms: int) -> None:
        self.remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_import_stops_before_the_lambda_time_limit(importer_env: Env) -> None:
    importer_env.put_dump(
        "slow.sql",
        b"CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n"
        b"INSERT INTO t VALUES (2);\nINSERT INTO t VALUES (3);\n",
    )
    context = LambdaContext(60_000, 60_000, 9_000)
    result = handler({"action": "import", "bucket": "dumps", "key": "slow.sql"}, context)
    assert result["ok"] is False and result["line"] == 3
    assert "time nearly over" in result["error"] and result["statements_executed"] == 2
    assert query(importer_env.database, "SELECT COUNT(*) FROM t") == [(0,)]


def test_runs_at_the_same_time_take_turns(importer_env: Env) -> None:
    """Two provisions and an import started together: the importer lock makes them
    take turns, so none trips over another's half-made schema or user."""
    importer_env.put_dump("turns.sql", b"CREATE TABLE IF NOT EXISTS t (id INT);\n")
    events = [
        {"action": "provision"},
        {"action": "provision"},
        {"action": "import", "bucket": "dumps", "key": "turns.sql"},
    ]
    start = threading.Barrier(len(events))

    def together(event: dict[str, str]) -> dict[str, object]:
        start.wait()
        return handler(event, None)

    with ThreadPoolExecutor(len(events)) as pool:
        results = list(pool.map(together, events))
    assert [r["ok"] for r in results] == [True, True, True], results
    assert {"messages", "message_stats", "alembic_version", "t"} <= tables(importer_env.database)
    assert query(importer_env.database, "SELECT id, row_count FROM message_stats") == [(1, 0)]


def test_a_run_that_cannot_have_the_lock_says_so(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer_run, "LOCK_TIMEOUT_S", 1)
    holder = root_connection()
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (lock_name(importer_env.database),))
            assert cur.fetchone() == (1,)
        started = time.monotonic()
        result = handler({"action": "provision"}, None)
        assert time.monotonic() - started < 10
    finally:
        holder.close()  # the session ends, and the lock with it
    assert result["ok"] is False
    assert result["error"] == (
        f"Busy: another importer run is working on database {importer_env.database}"
        " and did not finish within 1 s; try again when it has"
    )
    assert handler({"action": "provision"}, None)["ok"]
