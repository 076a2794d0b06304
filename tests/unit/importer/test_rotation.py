"""The exact SQL a password rotation sends, on both servers: MySQL 8 (what RDS
runs: a secondary password, RETAIN CURRENT PASSWORD then DISCARD OLD
PASSWORD) and MariaDB (two ways in for one account, then one).

Every test database here is MariaDB, so MySQL 8's branch runs for real only in
CI's mysql-8 job; this pins what both branches send, statement by statement,
against a recording connection (Secrets Manager from moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from countq.config import Settings
from countq.importer import admin, rotation

USER, OLD, NEW = "app", "old-pw", "new-pw"
GRANT = "GRANT SELECT, INSERT, UPDATE ON `countq`.* TO %s@'%%'"


class RecordingCursor:
    def __init__(self, log: list[Any], version: str) -> None:
        self.log, self.version, self.last = log, version, ""

    def __enter__(self) -> RecordingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, args: Any = None) -> None:
        self.log.append((sql, args))
        self.last = sql

    def fetchone(self) -> tuple[str]:
        assert self.last == "SELECT VERSION()", self.last
        return (self.version,)

    def fetchall(self) -> list[tuple[str]]:
        assert self.last.startswith("SHOW GRANTS"), self.last
        return [("GRANT USAGE ON *.* TO `app`@`%`",), (GRANT.replace("%s@'%%'", "`app`@`%`"),)]


class RecordingConnection:
    def __init__(self, log: list[Any], version: str) -> None:
        self.log, self.version = log, version

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self.log, self.version)

    def commit(self) -> None:
        self.log.append("COMMIT")

    def close(self) -> None:
        self.log.append("CLOSE")


def rotate(version: str, monkeypatch: pytest.MonkeyPatch, region: str) -> list[Any]:
    """settle() over a secret with a pending password; what it sent, in order."""
    log: list[Any] = []
    monkeypatch.setattr(admin, "connect", lambda *a, **k: RecordingConnection(log, version))
    monkeypatch.setattr(admin, "check_login", lambda s, u, p: log.append(("LOGIN", u, p)))
    monkeypatch.setattr(rotation.time, "sleep", lambda s: log.append(("GRACE", s)))
    sm = boto3.client("secretsmanager", region_name=region)
    arn = sm.create_secret(Name="app", SecretString=json.dumps({"username": USER, "password": OLD}))
    sm.put_secret_value(
        SecretId=arn["ARN"],
        SecretString=json.dumps({"username": USER, "password": NEW}),
        VersionStages=["AWSPENDING"],
    )
    settings = Settings(mysql_host="db.invalid", mysql_rotation_grace_s=30)
    assert rotation.settle(settings, arn["ARN"]) == rotation.Settled(USER, False, rotated=True)
    return log


def user_setup(*set_passwords: tuple[str, tuple[str, ...]]) -> list[Any]:
    """ensure_app_user's statements around the password ones."""
    return [
        ("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (USER, NEW)),
        ("SELECT VERSION()", None),
        *set_passwords,
        (GRANT, (USER,)),
        ("SHOW GRANTS FOR %s@'%%'", (USER,)),
        "COMMIT",
        "CLOSE",
    ]


def test_mysql_8_keeps_the_old_password_as_secondary_then_discards_it(
    fake_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rotate("8.4.3", monkeypatch, fake_aws) == [
        *user_setup(
            ("ALTER USER %s@'%%' IDENTIFIED BY %s", (USER, OLD)),  # the old one primary first
            ("ALTER USER %s@'%%' IDENTIFIED BY %s RETAIN CURRENT PASSWORD", (USER, NEW)),
        ),
        ("LOGIN", USER, NEW),
        ("GRACE", 30),
        *user_setup(
            ("ALTER USER %s@'%%' IDENTIFIED BY %s", (USER, NEW)),
            ("ALTER USER %s@'%%' DISCARD OLD PASSWORD", (USER,)),
        ),
    ]


def test_mariadb_accepts_both_passwords_then_only_the_new_one(
    fake_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rotate("10.11.9-MariaDB-ubu2204", monkeypatch, fake_aws) == [
        *user_setup(
            (
                "ALTER USER %s@'%%' IDENTIFIED VIA mysql_native_password USING PASSWORD(%s)"
                " OR mysql_native_password USING PASSWORD(%s)",
                (USER, NEW, OLD),
            ),
        ),
        ("LOGIN", USER, NEW),
        ("GRACE", 30),
        *user_setup(("ALTER USER %s@'%%' IDENTIFIED BY %s", (USER, NEW))),
    ]
