"""Rotating the application's MySQL password (mysql_app_password_version): the
importer's provision action promotes the AWSPENDING version Terraform wrote,
on the real MariaDB, with Secrets Manager from moto (in this process, or as a
server that a real `countq consumer` process reads)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pymysql
import pytest
import redis

from countq.config import Settings
from countq.importer import admin
from countq.importer.handler import handler
from countq.messages import uuid7
from tests.helpers.database import db_rows, root_connection
from tests.helpers.importer import Env
from tests.helpers.moto_server import moto_server as moto_server_at
from tests.helpers.processes import start_consumer, stop, wait_until
from tests.helpers.services import MYSQL, REDIS_URL, mysql_url, require_redis
from tests.helpers.streams import fill_stream

ACCESS_DENIED = 1045
GRACE_S = "1"  # MYSQL_ROTATION_GRACE_S here: far longer than a read-then-login


def login(user: str, password: str, database: str) -> None:
    pymysql.connect(
        host=MYSQL["host"],
        port=MYSQL["port"],
        user=user,
        password=password,
        database=database,
        ssl_disabled=True,
        connect_timeout=5,
    ).close()


def refused(user: str, password: str, database: str) -> bool:
    try:
        login(user, password, database)
    except pymysql.err.OperationalError as exc:
        return bool(exc.args[0] == ACCESS_DENIED)
    return False


def create_user_line(user: str) -> str:
    """SHOW CREATE USER. MySQL 8 salts every hash afresh, so setting the same
    password again shows a new hash: there, the hash is left out (MariaDB's
    unsalted one stays in, and must not change)."""
    with root_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        mysql_8 = "MariaDB" not in str(cur.fetchone()[0])
        if mysql_8:
            cur.execute("SET SESSION print_identified_with_as_hex = ON")
        cur.execute("SHOW CREATE USER %s@'%%'", (user,))
        line = str(cur.fetchone()[0])
    return re.sub(r" AS 0x[0-9A-F]+", " AS <salted hash>", line) if mysql_8 else line


class Poller:
    """A reader that keeps fetching AWSCURRENT afresh and logging in with it."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.logins = 0
        self.seen: list[str] = []  # the passwords AWSCURRENT held, in order
        self.refusals: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopping.is_set():
            password = self.env.app_secret()["password"]
            if not self.seen or self.seen[-1] != password:
                self.seen.append(password)
            try:
                login(self.env.app_user, password, self.env.database)
            except pymysql.err.OperationalError as exc:
                self.refusals.append(f"{exc.args[0]} with password #{self.seen.index(password)}")
            self.logins += 1

    def __enter__(self) -> Poller:
        self.thread.start()
        wait_until(lambda: self.logins >= 20, timeout=20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


def test_a_reader_of_awscurrent_is_never_refused_during_a_rotation(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYSQL_ROTATION_GRACE_S", GRACE_S)
    assert handler({"action": "provision"}, None)["ok"]
    env, old = importer_env, importer_env.app_secret()["password"]
    before = env.stages()
    (current,) = before
    new = "rotated;" + uuid.uuid4().hex
    pending = env.stage_password(new)
    assert env.stages() == {current: ["AWSCURRENT"], pending: ["AWSPENDING"]}

    with Poller(env) as poller:
        started = time.monotonic()
        result = handler({"action": "provision"}, None)
        took = time.monotonic() - started
        time.sleep(0.3)  # and a moment after the old password went
    assert result["ok"] and result["password_rotated"] is True, result
    assert took >= float(GRACE_S)
    assert poller.refusals == [], f"{len(poller.refusals)} of {poller.logins}: {poller.refusals}"
    assert poller.seen == [old, new]
    assert env.stages() == {current: ["AWSPREVIOUS"], pending: ["AWSCURRENT"]}
    assert refused(env.app_user, old, env.database)
    login(env.app_user, new, env.database)


def test_provision_again_changes_nothing(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYSQL_ROTATION_GRACE_S", "0")
    env = importer_env
    assert handler({"action": "provision"}, None)["ok"]
    env.stage_password("second;" + uuid.uuid4().hex)
    assert handler({"action": "provision"}, None)["password_rotated"] is True
    stages, user = env.stages(), create_user_line(env.app_user)

    again = handler({"action": "provision"}, None)
    assert again["ok"] and again["password_rotated"] is False
    assert env.stages() == stages
    assert create_user_line(env.app_user) == user
    env.app_connection().close()


def test_first_deploy_secret_is_pending_and_current_at_once(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform's first version of a new secret: Secrets Manager labels it
    AWSCURRENT too. No service runs yet (deploy.sh creates them after provision)."""
    env = importer_env
    env.app_arn = env.sm.create_secret(Name=f"first-{env.app_user}")["ARN"]
    monkeypatch.setenv("APP_DB_SECRET_ARN", env.app_arn)
    empty = handler({"action": "provision"}, None)
    assert empty["ok"] is False and "has no AWSCURRENT version yet" in empty["error"]

    first = env.stage_password("first;" + uuid.uuid4().hex)
    assert env.stages() == {first: ["AWSCURRENT", "AWSPENDING"]}
    result = handler({"action": "provision"}, None)
    assert result["ok"] and result["password_rotated"] is False, result
    assert env.stages() == {first: ["AWSCURRENT"]}
    env.app_connection().close()


def test_a_rotation_stopped_half_way_is_finished_by_the_next_run(
    importer_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after MySQL took both passwords and AWSCURRENT moved (the Lambda
    timed out in its grace period, say): the next run drops AWSPENDING and the old one."""
    monkeypatch.setenv("MYSQL_ROTATION_GRACE_S", "0")
    env = importer_env
    assert handler({"action": "provision"}, None)["ok"]
    old = env.app_secret()["password"]
    (current,) = env.stages()
    new = "half;" + uuid.uuid4().hex
    pending = env.stage_password(new)
    admin.ensure_app_user(Settings(), env.app_user, new, keep=old)
    env.sm.update_secret_version_stage(
        SecretId=env.app_arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending,
        RemoveFromVersionId=current,
    )
    login(env.app_user, old, env.database)  # both accepted meanwhile
    login(env.app_user, new, env.database)

    result = handler({"action": "provision"}, None)
    assert result["ok"] and result["password_rotated"] is True, result
    assert env.stages() == {current: ["AWSPREVIOUS"], pending: ["AWSCURRENT"]}
    assert refused(env.app_user, old, env.database)
    login(env.app_user, new, env.database)


# --- a real consumer process across a rotation ---------------------------------------------------


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's Secrets Manager as a server, for this process and the consumer's alike."""
    with moto_server_at(monkeypatch) as url:
        yield url


def test_a_running_consumer_keeps_storing_across_a_rotation(
    moto_server: str, redis_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_redis()
    suffix = uuid.uuid4().hex[:10]
    database, app_user = f"countq_rot_{suffix}", f"app_{suffix}"
    sm = boto3.client("secretsmanager")
    master = sm.create_secret(
        Name=f"master-{suffix}", SecretString=json.dumps({"username": "root", "password": ""})
    )["ARN"]
    app = sm.create_secret(Name=f"app-{suffix}")["ARN"]
    env = Env(database, app_user, master, app, sm, None, "")
    env.stage_password("first;" + suffix)  # the first deploy's version
    mysql = {
        "MYSQL_HOST": MYSQL["host"],
        "MYSQL_PORT": str(MYSQL["port"]),
        "MYSQL_DATABASE": database,
        "MYSQL_TLS": "false",
    }
    for name, value in {**mysql, "DB_SECRET_ARN": master, "APP_DB_SECRET_ARN": app}.items():
        monkeypatch.setenv(name, value)
    for name in ("MYSQL_USER", "MYSQL_PASSWORD", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MYSQL_ROTATION_GRACE_S", GRACE_S)
    root_view = Settings(database_url=mysql_url(database))
    queue = Settings(redis_queue=redis_queue)
    proc = None
    try:
        assert handler({"action": "provision"}, None)["ok"]
        consumer_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "REDIS_"))
        }
        consumer_env.pop("DATABASE_URL", None)
        consumer_env.pop("APP_DB_SECRET_ARN", None)
        consumer_env.update(
            mysql,
            DB_SECRET_ARN=app,  # the services' secret: the app user's
            REDIS_URL=REDIS_URL,
            REDIS_QUEUE=redis_queue,
            DATA_DIR=str(tmp_path),
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        r = redis.Redis.from_url(REDIS_URL)
        sent = 0

        def send(n: int) -> None:
            nonlocal sent
            pipe = r.pipeline(transaction=False)
            for i in range(n):
                pipe.xadd(queue.stream_key, {"id": str(uuid7()), "count": sent + i, "ts": 0})
            pipe.execute()
            sent += n

        fill_stream(queue, 500)  # creates the group, before the consumer does
        sent = 500
        log = tmp_path / "consumer.log"
        proc = start_consumer(consumer_env, log)
        wait_until(lambda: db_rows(root_view)[2] == sent, timeout=60, interval=0.1)

        old = env.app_secret()["password"]
        env.stage_password("rotated;" + uuid.uuid4().hex)
        results: list[dict[str, Any]] = []
        rotating = threading.Thread(
            target=lambda: results.append(handler({"action": "provision"}, None))
        )
        rotating.start()
        while rotating.is_alive():  # messages keep coming during the rotation
            send(20)
            time.sleep(0.05)
        rotating.join()
        assert results[0]["ok"] and results[0]["password_rotated"] is True, results
        assert refused(app_user, old, database)

        # Its pooled connections survived ALTER USER; now they die, so it must
        # log in again, with a password it has to fetch anew.
        with root_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE user = %s", (app_user,)
            )
            killed = [row[0] for row in cur.fetchall()]
            for thread_id in killed:
                cur.execute(f"KILL {int(thread_id)}")
        assert killed, "the consumer held no MySQL connection"

        send(300)
        wait_until(lambda: db_rows(root_view)[2] == sent, timeout=60, interval=0.1)
        assert proc.poll() is None, "the consumer stopped"
        rows, distinct, summary = db_rows(root_view)
        assert rows == distinct == summary == sent
        text = log.read_text()
        assert f"login refused; fetching secret {app} again" in text, text[-3000:]
    finally:
        if proc is not None:
            stop(proc)
        with root_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cur.execute("DROP USER IF EXISTS %s@'%%'", (app_user,))
