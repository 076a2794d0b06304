"""Real MariaDB (a fresh database per test) with S3 and Secrets Manager from moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.helpers.database import root_connection
from tests.helpers.importer import Env
from tests.helpers.services import MYSQL


@pytest.fixture
def importer_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    import boto3
    from moto import mock_aws

    from countq import credentials

    suffix = uuid.uuid4().hex[:10]
    database, app_user = f"countq_imp_{suffix}", f"app_{suffix}"
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "DATABASE_URL",
        "MYSQL_TLS_CA",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MYSQL_HOST", MYSQL["host"])
    monkeypatch.setenv("MYSQL_PORT", str(MYSQL["port"]))
    monkeypatch.setenv("MYSQL_DATABASE", database)
    monkeypatch.setenv("MYSQL_TLS", "false")
    credentials.clear_cache()
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="eu-west-1")
        s3 = boto3.client("s3", region_name="eu-west-1")
        master = sm.create_secret(
            Name=f"master-{suffix}", SecretString=json.dumps({"username": "root", "password": ""})
        )["ARN"]
        app = sm.create_secret(
            Name=f"app-{suffix}",
            SecretString=json.dumps({"username": app_user, "password": f"p;w'd\"{suffix}"}),
        )["ARN"]
        s3.create_bucket(
            Bucket="dumps", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        monkeypatch.setenv("DB_SECRET_ARN", master)
        monkeypatch.setenv("APP_DB_SECRET_ARN", app)
        try:
            yield Env(database, app_user, master, app, sm, s3, "dumps")
        finally:
            credentials.clear_cache()
            conn = root_connection()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
                cur.execute("DROP USER IF EXISTS %s@'%%'", (app_user,))
            conn.close()
