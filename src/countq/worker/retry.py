"""How the consumer waits out an outage: the same call again, with capped backoff,
until it succeeds or the consumer is asked to stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from redis.exceptions import (
    ClusterError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from countq.worker.metrics import OUTAGES

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 2.0


class Stopping(Exception):
    """The consumer was asked to stop while it waited; whatever it holds stays pending."""


class Retry:
    """`retry(dependency, call)`: call until it succeeds; Stopping when asked to stop.

    Only an outage is retried. Anything else is raised at once: a DataError or
    IntegrityError, or an error no dependency explains (the driver's
    OverflowError on a value it cannot bind), is the data's fault and would
    fail the same way forever; the caller isolates the row (Consumer._store).

    Retrying does not count as alive: only the loop's turns touch the
    heartbeat, so a reconnect that keeps failing turns the consumer unhealthy
    after CONSUMER_STALL_S. `recreate_stream` runs when Redis says the stream
    or group is gone.
    """

    def __init__(self, stopping: threading.Event, recreate_stream: Callable[[], None]) -> None:
        self.stopping = stopping
        self.recreate_stream = recreate_stream

    def __call__(self, dependency: str, call: Callable[[], T]) -> T:
        delay = FIRST_BACKOFF_S
        while True:
            try:
                return call()
            except (DataError, IntegrityError):
                raise  # the data, not an outage: the caller decides
            except Exception as exc:
                failed = self._outage(dependency, exc)
                if failed is None:
                    raise
                OUTAGES.labels(failed).inc()
                log.warning(
                    "%s unavailable (%s: %s); retrying in %.2fs",
                    failed,
                    type(exc).__name__,
                    str(exc)[:200],
                    delay,
                )
            if self.stopping.wait(delay):
                raise Stopping
            delay = min(delay * 2, MAX_BACKOFF_S)

    def _outage(self, dependency: str, exc: Exception) -> str | None:
        """Which dependency failed, or None when `exc` is not an outage."""
        # A cluster failing over: no primary for the slot yet, or a demoted one.
        if isinstance(exc, ClusterError | TryAgainError | ReadOnlyError | RedisClusterException):
            return "redis"
        if isinstance(exc, ResponseError):
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                return None
            self.once("redis", self.recreate_stream)  # deleted under us: recreate and go on
            return "redis"
        if isinstance(exc, RedisError):
            return "redis"
        if isinstance(exc, SQLAlchemyError):
            return "database"
        if isinstance(exc, OSError):
            return dependency
        return None

    @staticmethod
    def once(dependency: str, call: Callable[[], Any]) -> None:
        """Best effort: one try, a warning if it fails."""
        try:
            call()
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("%s: %s", dependency, exc)
