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
        secret = self.app_secret()
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

    def app_secret(self, stage: str = "AWSCURRENT") -> dict[str, str]:
        """The app secret's value under `stage`, named explicitly: moto 5.2.5 keeps
        answering the old version to a call without one after AWSCURRENT moved."""
        value = self.sm.get_secret_value(SecretId=self.app_arn, VersionStage=stage)
        return dict(json.loads(value["SecretString"]))

    def stage_password(self, password: str) -> str:
        """A new app password as AWSPENDING, as Terraform writes it; its version id."""
        value = json.dumps({"username": self.app_user, "password": password})
        return str(
            self.sm.put_secret_value(
                SecretId=self.app_arn, SecretString=value, VersionStages=["AWSPENDING"]
            )["VersionId"]
        )

    def stages(self) -> dict[str, list[str]]:
        """Each version's staging labels (versions without one left out)."""
        versions = self.sm.describe_secret(SecretId=self.app_arn)["VersionIdsToStages"]
        return {v: sorted(labels) for v, labels in versions.items() if labels}
