"""Redis clients for both sides of the queue, the Lua scripts, and the queue's figures.

Standalone or cluster, TLS per the URL scheme, bounded retries, and the
login every new connection asks for: an IAM token (REDIS_IAM_USER, see
iam.py), or the login from REDIS_SECRET_ARN read from the secret cache (after
`credentials.retry_refused` fetched a rotated secret, the next connection uses
it, with no client to rebuild), or the configured one.
"""

from __future__ import annotations

import time
from importlib.resources import files
from typing import Any, TypedDict, cast

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.credentials import CredentialProvider
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from countq.config import Settings
from countq.credentials import Login
from countq.errors import BacklogFull, NotReplayable, QueueError
from countq.queue import keys
from countq.queue.iam import iam_login
from countq.queue.partitions import Partition

# A few hundred milliseconds in all, then the producer answers 503.
CONNECT_TIMEOUT_S = 0.2
RETRIES = 2

SyncClient = redis.Redis | redis.RedisCluster
AsyncClient = aredis.Redis | aredis.RedisCluster


def _lua(name: str) -> str:
    return (files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


# EVAL, not EVALSHA, for the enqueue script: it is small, and never meets
# NOSCRIPT after a Redis restart or failover. The consumer's scripts are
# registered (EVALSHA, then EVAL on NOSCRIPT).
ENQUEUE_LUA = _lua("enqueue")
ACK_LUA = _lua("ack")
DEAD_LETTER_LUA = _lua("dead_letter")
REPLAY_LUA = _lua("replay")  # countq dead-letters replay


def refusal(reply: ResponseError, bound: int) -> QueueError | ResponseError:
    """A script's refusal (keys.py: the refusal protocol) as its countq.errors
    class; any other error reply as it is."""
    code, _, detail = str(reply).partition(" ")
    if code == keys.BACKLOG:
        return BacklogFull(int(detail), bound)
    if code == keys.NOT_REPLAYABLE:
        return NotReplayable("the dead letter kept no message fields")
    return reply


class PartitionStats(TypedDict):
    stream: str
    backlog: int
    pending: int
    dead_letters: int
    oldest_age_seconds: float
    consumers: int


class QueueStats(TypedDict):
    """The whole queue: sums over the partitions (the oldest age and the
    consumers are the largest), and each partition's own figures."""

    backlog: int
    pending: int
    dead_letters: int
    oldest_age_seconds: float
    consumers: int
    partitions: list[PartitionStats]


def redis_login(settings: Settings) -> Login:
    return Login(settings.redis_secret_arn, settings.redis_username, settings.redis_password)


def login_refused(exc: Exception) -> bool:
    return isinstance(exc, AuthenticationError)


class _SecretLogin(CredentialProvider):
    """Asked by redis-py for every new connection: the cached secret, or the one
    fetched again after a refusal."""

    def __init__(self, login: Login) -> None:
        self.login = login

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        username, password = self.login.get()
        return (username, password or "") if username else (password or "",)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        return self.get_credentials()


def connect(settings: Settings, *, socket_timeout: float) -> SyncClient:
    """The consumer's client (synchronous)."""
    return cast(SyncClient, _client(redis, Retry, settings, socket_timeout))


def connect_async(settings: Settings, *, socket_timeout: float) -> AsyncClient:
    """The producer's client (asyncio)."""
    return cast(AsyncClient, _client(aredis, AsyncRetry, settings, socket_timeout))


def _client(flavour: Any, retry: Any, settings: Settings, socket_timeout: float) -> Any:
    """`flavour` is redis or redis.asyncio, `retry` its Retry: the same options for both."""
    login = redis_login(settings)
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": socket_timeout,
        "health_check_interval": 30,
        "retry": retry(ExponentialBackoff(cap=0.1, base=0.02), RETRIES),
    }
    iam = iam_login(settings)
    if iam is not None:
        options["credential_provider"] = iam
    elif login.secret_arn:
        options["credential_provider"] = _SecretLogin(login)
    else:
        options.update(username=login.username, password=login.password)
    if settings.redis_cluster:
        return flavour.RedisCluster.from_url(settings.effective_redis_url(), **options)
    return flavour.Redis.from_url(
        settings.effective_redis_url(),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        max_connections=256,
        **options,
    )


def raise_unless_busygroup(exc: ResponseError) -> None:
    """Creating the group when it exists already is fine; anything else is not."""
    if "BUSYGROUP" not in str(exc):
        raise exc


def stats_pipeline(client: Any, s: Settings, partitions: list[Partition]) -> Any:
    """One round trip (one per node on a cluster) for every queue figure of
    every partition (sync and asyncio pipelines alike)."""
    pipe = client.pipeline(transaction=False)
    for p in partitions:
        pipe.xlen(p.stream_key)
        pipe.xpending(p.stream_key, s.group)
        pipe.xlen(p.dead_key)
        pipe.xrange(p.stream_key, count=1)
        pipe.xinfo_groups(p.stream_key)
    return pipe


_FIGURES_PER_PARTITION = 5


def stats_from(results: list[Any], s: Settings, partitions: list[Partition]) -> QueueStats:
    each = [
        _partition_stats(p, results[i : i + _FIGURES_PER_PARTITION], s)
        for p, i in zip(partitions, range(0, len(results), _FIGURES_PER_PARTITION), strict=True)
    ]
    return {
        "backlog": sum(p["backlog"] for p in each),
        "pending": sum(p["pending"] for p in each),
        "dead_letters": sum(p["dead_letters"] for p in each),
        "oldest_age_seconds": max(p["oldest_age_seconds"] for p in each),
        # Every consumer joins every partition's group.
        "consumers": max(p["consumers"] for p in each),
        "partitions": each,
    }


def _partition_stats(partition: Partition, results: list[Any], s: Settings) -> PartitionStats:
    length, pending, dead, oldest, groups = results
    pending_count = int(pending["pending"])
    oldest_age = 0.0
    if oldest:  # entry ids start with their enqueue time in ms
        oldest_ms = int(oldest[0][0].split("-")[0])
        oldest_age = max(0.0, time.time() - oldest_ms / 1000)
    return {
        "stream": partition.stream_key,
        "backlog": max(0, int(length) - pending_count),
        "pending": pending_count,
        "dead_letters": int(dead),
        "oldest_age_seconds": round(oldest_age, 3),
        "consumers": sum(int(g["consumers"]) for g in groups if g["name"] == s.group),
    }
