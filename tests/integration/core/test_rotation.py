"""A rotated Redis password (REDIS_SECRET_ARN) reaches the running producer and
consumer: real `countq producer` and `countq consumer` processes, each with
its own secret cache, on the real Redis with an ACL user of the test's own,
and the secret in Secrets Manager from a moto server both of them call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
import redis

from countq.config import Settings
from tests.helpers.database import db_rows
from tests.helpers.moto_server import moto_server
from tests.helpers.processes import LiveStack, free_port, settings_env, wait_until


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with moto_server(monkeypatch):
        yield boto3.client("secretsmanager")


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
    settings: Settings,
    redis_user: str,
    redis_admin: redis.Redis,
    secrets_manager: object,
    tmp_path: Path,
) -> None:
    sm: object = secrets_manager
    arn = sm.create_secret(  # type: ignore[attr-defined]
        Name=f"redis-{redis_user}",
        SecretString=json.dumps({"username": redis_user, "password": "before"}),
    )["ARN"]
    s = settings.model_copy(update={"redis_secret_arn": arn})
    stack = LiveStack(s, {**settings_env(s), "REDIS_SECRET_ARN": arn}, free_port(), tmp_path)
    try:
        stack.start_producer()
        stack.start_consumer()
        assert httpx.post(f"{stack.url}/count", json={"count": 1}).status_code == 202
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

        assert httpx.post(f"{stack.url}/count", json={"count": 2}).status_code == 202
        wait_until(lambda: db_rows(settings)[2] == 2, timeout=30)
        assert httpx.get(f"{stack.url}/count").json()["last_value"] == 2
        assert stack.procs["consumer"].poll() is None
    finally:
        stack.stop_all()
    # Each process found its cached password refused and fetched the secret itself.
    refresh = f"login refused; fetching secret {arn} again"
    for name in ("producer", "consumer"):
        log = (tmp_path / f"{name}.log").read_text()
        assert refresh in log, f"{name}.log:\n{log[-3000:]}"
