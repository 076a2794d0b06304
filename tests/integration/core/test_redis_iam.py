"""IAM authentication to Redis (REDIS_IAM_USER): the application's clients log
in with the token its credential provider signs. On the real Redis, an ACL
user's password is the token this test computes with its own SigV4 code
(tests/helpers/elasticache_iam.py), so a login proves the two agree. Whether
ElastiCache accepts such a token only AWS can show (docs/deploying/redis-iam.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis

from countq.config import Settings
from countq.queue import iam
from countq.queue.client import connect, connect_async
from countq.queue.iam import TOKEN_REUSE_S
from tests.helpers import elasticache_iam
from tests.helpers.services import REDIS_URL

REGION = "eu-central-1"
CACHE = "countq-test"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    with elasticache_iam.frozen_aws(monkeypatch, REGION) as times:
        yield times


@pytest.fixture
def settings(redis_queue: str) -> Settings:
    """Redis only: these tests never reach MySQL."""
    return Settings(redis_url=REDIS_URL, redis_queue=redis_queue)


@pytest.fixture
def iam_user(settings: Settings, redis_admin: redis.Redis) -> Iterator[str]:
    """An ACL user of this test's keys, and its cleanup (the tests set its password)."""
    name = f"countq-iam-{uuid.uuid4().hex[:10]}"
    yield name
    redis_admin.acl_deluser(name)


def allow(redis_admin: redis.Redis, user: str, password: str, settings: Settings) -> None:
    redis_admin.acl_setuser(
        user,
        enabled=True,
        reset_passwords=True,
        passwords=[f"+{password}"],
        keys=[f"{{{settings.redis_queue}}}*"],
        commands=["+@all"],
    )


def iam_settings(
    settings: Settings, user: str, cache: str = CACHE, region: str = REGION
) -> Settings:
    return settings.model_copy(
        update={"redis_iam_user": user, "redis_iam_cache_name": cache, "aws_region": region}
    )


def test_the_clients_log_in_with_the_signed_token_and_sign_again_to_reconnect(
    settings: Settings,
    redis_admin: redis.Redis,
    iam_user: str,
    aws: list[datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]  # the providers' cache clock, moved with botocore's signing time
    monkeypatch.setattr(iam, "monotonic", lambda: clock[-1])
    s = iam_settings(settings, iam_user)
    first = elasticache_iam.token(iam_user, CACHE, REGION, aws[-1])
    allow(redis_admin, iam_user, first, s)

    # The producer's (asyncio) client: XADD as the IAM user.
    async def produce() -> tuple[str, str]:
        client = connect_async(s, socket_timeout=2.0)
        try:
            return await client.xadd(s.stream_key, {"count": "1"}), await client.acl_whoami()
        finally:
            await client.aclose()

    entry, whoami = asyncio.run(produce())
    assert whoami == iam_user

    # The consumer's (sync) client: XREADGROUP the entry.
    client = connect(s, socket_timeout=2.0)
    client.xgroup_create(s.stream_key, s.group, id="0")
    [[_, entries]] = client.xreadgroup(s.group, "c1", {s.stream_key: ">"}, count=10)
    assert [e for e, _ in entries] == [entry]

    def reconnected_as_user() -> str:
        # What ElastiCache does to an IAM connection after 12 hours.
        redis_admin.client_kill_filter(user=iam_user)
        return str(client.acl_whoami())

    # Just under ten minutes on, a new connection reuses the token (one
    # signed now would differ: the time is part of it).
    aws.append(aws[0] + timedelta(seconds=TOKEN_REUSE_S - 1))
    clock.append(TOKEN_REUSE_S - 1)
    assert reconnected_as_user() == iam_user

    # Ten minutes on, it signs a new one; the old one no longer logs in.
    aws.append(aws[0] + timedelta(seconds=TOKEN_REUSE_S))
    clock.append(TOKEN_REUSE_S)
    second = elasticache_iam.token(iam_user, CACHE, REGION, aws[-1])
    assert second != first
    allow(redis_admin, iam_user, second, s)
    assert reconnected_as_user() == iam_user
    assert client.xack(s.stream_key, s.group, entry) == 1
    client.close()


@pytest.mark.parametrize("wrong", ["region", "user", "cache"])
def test_a_token_for_another_region_user_or_cache_is_refused(
    wrong: str,
    settings: Settings,
    redis_admin: redis.Redis,
    iam_user: str,
    aws: list[datetime],
) -> None:
    """The user's password is its token for this cache in REGION; a client signing
    for anything else is refused."""
    allow(redis_admin, iam_user, elasticache_iam.token(iam_user, CACHE, REGION, aws[-1]), settings)
    user, cache, region = iam_user, CACHE, REGION
    if wrong == "region":
        region = "eu-west-1"
    elif wrong == "cache":
        cache = "countq-prod"
    else:
        # Another ACL user holding this user's token: a token names its user.
        user = f"{iam_user}-other"
        allow(redis_admin, user, elasticache_iam.token(iam_user, CACHE, REGION, aws[-1]), settings)
    client = connect(iam_settings(settings, user, cache, region), socket_timeout=2.0)
    try:
        with pytest.raises(redis.AuthenticationError):
            client.ping()
    finally:
        client.close()
        redis_admin.acl_deluser(f"{iam_user}-other")
