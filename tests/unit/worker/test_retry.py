"""countq.worker.retry: which failures are an outage (wait and call again) and
which go back to the caller at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import (
    ClusterDownError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from countq.worker.retry import Retry, Stopping


def failing_once(exc: Exception) -> tuple[Callable[[], str], list[int]]:
    """A call that raises `exc` the first time and answers "ok" after; its call count."""
    calls = [0]

    def call() -> str:
        calls[0] += 1
        if calls[0] == 1:
            raise exc
        return "ok"

    return call, calls


def errors(dependency: str) -> float:
    return (
        REGISTRY.get_sample_value("countq_dependency_errors_total", {"dependency": dependency})
        or 0.0
    )


@pytest.mark.parametrize(
    ("dependency", "exc", "counted_as"),
    [
        ("redis", RedisConnectionError("refused"), "redis"),
        ("redis", RedisTimeoutError("timed out"), "redis"),
        ("redis", ClusterDownError("CLUSTERDOWN"), "redis"),  # a failover
        ("redis", TryAgainError("TRYAGAIN"), "redis"),
        ("redis", ReadOnlyError("READONLY"), "redis"),  # a demoted primary
        ("database", OperationalError("SELECT 1", {}, Exception("gone")), "database"),
        ("database", ConnectionResetError("reset"), "database"),  # OSError: the caller's
        ("redis", ConnectionRefusedError("refused"), "redis"),
    ],
)
def test_an_outage_is_waited_out_and_counted(
    dependency: str, exc: Exception, counted_as: str
) -> None:
    recreated: list[bool] = []
    retry = Retry(threading.Event(), lambda: recreated.append(True))
    call, calls = failing_once(exc)
    before = errors(counted_as)
    assert retry(dependency, call) == "ok"
    assert calls == [2]
    assert errors(counted_as) == before + 1
    assert not recreated


@pytest.mark.parametrize("reply", ["NOGROUP No such key", "UNBLOCKED the stream key was deleted"])
def test_a_deleted_stream_or_group_is_recreated_then_retried(reply: str) -> None:
    recreated: list[bool] = []
    retry = Retry(threading.Event(), lambda: recreated.append(True))
    call, calls = failing_once(ResponseError(reply))
    assert retry("redis", call) == "ok"
    assert calls == [2]
    assert recreated == [True]


@pytest.mark.parametrize(
    "exc",
    [
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        IntegrityError("INSERT", {}, Exception("duplicate")),  # the data: the caller decides
        DataError("INSERT", {}, Exception("out of range")),
        OverflowError("a value the driver cannot bind"),
        ValueError("a bug, not an outage"),
    ],
)
def test_anything_else_goes_back_to_the_caller_at_once(exc: Exception) -> None:
    retry = Retry(threading.Event(), lambda: None)
    call, calls = failing_once(exc)
    with pytest.raises(type(exc)):
        retry("database", call)
    assert calls == [1]


def test_a_stop_ends_the_wait() -> None:
    stopping = threading.Event()
    retry = Retry(stopping, lambda: None)

    def down() -> str:
        stopping.set()
        raise RedisConnectionError("refused")

    with pytest.raises(Stopping):
        retry("redis", down)
