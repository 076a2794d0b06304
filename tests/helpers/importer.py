"""The importer tests' environment: a database, an app user, secrets and a bucket in moto."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pymysql

from tests.helpers.services import MYSQL


@dataclass
class Env:
    database: str
    app_user: str
    master_arn: str
    app_arn: str
    sm: Any
    s3: Any
    bucket: str

    def app_connection(self, password: str | None = None) -> pymysql.Connection[Any]:
        secret = json.loads(self.sm.get_secret_value(SecretId=self.app_arn)["SecretString"])
        return pymysql.connect(
            host=MYSQL["host"],
            port=MYSQL["port"],
            user=self.app_user,
            password=secret["password"] if password is None else password,
            database=self.database,
            autocommit=True,
            ssl_disabled=True,
        )

    def put_dump(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
