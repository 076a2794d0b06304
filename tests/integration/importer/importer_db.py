"""Helpers shared by the importer tests: root access to MariaDB and the test environment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pymysql

from tests.helpers.services import MYSQL, require_mysql

MYSQL_HOST, MYSQL_PORT = MYSQL["host"], MYSQL["port"]


def root_connection(database: str | None = None) -> pymysql.Connection[Any]:
    require_mysql()
    return pymysql.connect(**MYSQL, database=database, autocommit=True, ssl_disabled=True)


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
            host=MYSQL_HOST,
            port=MYSQL_PORT,
            user=self.app_user,
            password=secret["password"] if password is None else password,
            database=self.database,
            autocommit=True,
            ssl_disabled=True,
        )

    def put_dump(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
