"""Real MariaDB (a fresh database per test) with S3 and Secrets Manager from moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest

from tests.helpers.database import root_connection
from tests.helpers.importer import Env
from tests.helpers.services import MYSQL


@pytest.fixture
def importer_env(fake_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    suffix = uuid.uuid4().hex[:10]
    database, app_user = f"countq_imp_{suffix}", f"app_{suffix}"
    for name in ("MYSQL_USER", "MYSQL_PASSWORD", "DATABASE_URL", "MYSQL_TLS_CA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MYSQL_HOST", MYSQL["host"])
    monkeypatch.setenv("MYSQL_PORT", str(MYSQL["port"]))
    monkeypatch.setenv("MYSQL_DATABASE", database)
    monkeypatch.setenv("MYSQL_TLS", "false")
    sm = boto3.client("secretsmanager", region_name=fake_aws)
    s3 = boto3.client("s3", region_name=fake_aws)
    master = sm.create_secret(
        Name=f"master-{suffix}", SecretString=json.dumps({"username": "root", "password": ""})
    )["ARN"]
    app = sm.create_secret(
        Name=f"app-{suffix}",
        SecretString=json.dumps({"username": app_user, "password": f"p;w'd\"{suffix}"}),
    )["ARN"]
    s3.create_bucket(Bucket="dumps", CreateBucketConfiguration={"LocationConstraint": fake_aws})
    monkeypatch.setenv("DB_SECRET_ARN", master)
    monkeypatch.setenv("APP_DB_SECRET_ARN", app)
    try:
        yield Env(database, app_user, master, app, sm, s3, "dumps")
    finally:
        with root_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cur.execute("DROP USER IF EXISTS %s@'%%'", (app_user,))
