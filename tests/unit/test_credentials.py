"""The one refresh-on-refusal rule, with Secrets Manager from moto (in-process)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import boto3
import pytest

from countq.credentials import Login, retry_refused, retry_refused_async


class Refused(Exception):
    pass


def refused(exc: Exception) -> bool:
    return isinstance(exc, Refused)


class Server:
    """Accepts only `password`, and remembers the passwords it was offered."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.offered: list[str | None] = []

    def connect(self, login: Login) -> str:
        self.offered.append(login.get()[1])
        if self.offered[-1] != self.password:
            raise Refused
        return "connected"


@pytest.fixture
def rotated(fake_aws: str) -> Login:
    """A login whose secret was cached as "old", then rotated to "new"."""
    sm: Any = boto3.client("secretsmanager", region_name=fake_aws)
    arn = sm.create_secret(Name="login", SecretString='{"username": "u", "password": "old"}')
    login = Login(arn["ARN"])
    assert login.get() == ("u", "old")  # cached from here on
    new = json.dumps({"username": "u", "password": "new"})
    sm.put_secret_value(SecretId=arn["ARN"], SecretString=new)
    return login


def test_a_rotated_secret_is_fetched_again_once(rotated: Login) -> None:
    server = Server("new")
    assert retry_refused(lambda: server.connect(rotated), rotated, refused) == "connected"
    assert server.offered == ["old", "new"]


def test_the_async_twin_does_the_same(rotated: Login) -> None:
    server = Server("new")

    async def connect() -> str:
        return server.connect(rotated)

    assert asyncio.run(retry_refused_async(connect, rotated, refused)) == "connected"
    assert server.offered == ["old", "new"]


def test_no_second_try_without_a_secret_or_for_other_errors() -> None:
    server = Server("right")
    configured = Login(None, "u", "wrong")
    with pytest.raises(Refused):
        retry_refused(lambda: server.connect(configured), configured, refused)
    assert server.offered == ["wrong"]

    # An outage is not a stale password: one try, and the secret is not fetched
    # (there is none at this ARN; a fetch would raise something else).
    tries: list[str] = []

    def down() -> str:
        tries.append("sync")
        raise OSError("down")

    async def down_async() -> str:
        tries.append("async")
        raise OSError("down")

    with pytest.raises(OSError, match="down"):
        retry_refused(down, Login("arn:unused"), refused)
    assert tries == ["sync"]
    with pytest.raises(OSError, match="down"):
        asyncio.run(retry_refused_async(down_async, Login("arn:unused"), refused))
    assert tries == ["sync", "async"]
