"""A rotated Redis password (REDIS_SECRET_ARN) reaches the running producer and
consumer: on the real Redis, with an ACL user of the test's own, and the
secret in Secrets Manager from moto."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import boto3
import pytest
import redis
from fastapi.testclient import TestClient

from countq import credentials
from countq.api.app import create_app
from countq.config import Settings
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows
from tests.helpers.processes import wait_until


@pytest.fixture
def secrets_manager(fake_aws: str) -> object:
    return boto3.client("secretsmanager", region_name=fake_aws)


@pytest.fixture
def redis_user(settings: Settings, redis_admin: redis.Redis) -> Iterator[str]:
    """An ACL user that may touch this test's keys only."""
    name = f"countq_{uuid.uuid4().hex[:10]}"
    redis_admin.acl_setuser(
        name,
        enabled=True,
        passwords=["+before"],
        keys=[f"{{{settings.redis_queue}}}*"],
        commands=["+@all"],
    )
    yield name
    redis_admin.acl_deluser(name)


def test_a_rotated_redis_password_reaches_producer_and_consumer(
    settings: Settings, redis_user: str, redis_admin: redis.Redis, secrets_manager: object
) -> None:
    sm: object = secrets_manager
    arn = sm.create_secret(  # type: ignore[attr-defined]
        Name=f"redis-{redis_user}",
        SecretString=json.dumps({"username": redis_user, "password": "before"}),
    )["ARN"]
    s = settings.model_copy(update={"redis_secret_arn": arn})
    consumer = Consumer(s, name="rotation")
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(s)) as client:
            assert client.post("/count", json={"count": 1}).status_code == 202
            wait_until(lambda: db_rows(settings)[2] == 1)

            # Rotation: the new password in Redis and in the secret, and every
            # connection made with the old one dropped.
            redis_admin.acl_setuser(
                redis_user, enabled=True, reset_passwords=True, passwords=["+after"]
            )
            sm.put_secret_value(  # type: ignore[attr-defined]
                SecretId=arn, SecretString=json.dumps({"username": redis_user, "password": "after"})
            )
            redis_admin.client_kill_filter(user=redis_user)

            assert client.post("/count", json={"count": 2}).status_code == 202
            wait_until(lambda: db_rows(settings)[2] == 2, timeout=30)
            assert client.get("/count").json()["last_value"] == 2
    finally:
        consumer.stopping.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert credentials.get_secret(arn)["password"] == "after"
