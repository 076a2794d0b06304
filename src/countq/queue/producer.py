"""The producer's side of the queue: enqueue under a bound, read the queue's figures (asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from redis.asyncio import RedisCluster
from redis.exceptions import (
    AskError,
    ClusterError,
    MovedError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from countq.config import Settings
from countq.credentials import retry_refused_async
from countq.errors import NotReplicated, QueueUnavailable
from countq.messages import new_message
from countq.queue import keys, latency
from countq.queue.client import (
    ENQUEUE_LUA,
    QueueStats,
    connect_async,
    login_refused,
    raise_unless_busygroup,
    redis_login,
    refusal,
    stats_from,
    stats_pipeline,
)
from countq.queue.outage import Outage
from countq.queue.partitions import (
    Partition,
    bound_per_partition,
    configured,
    in_partition,
    index_of,
    known,
    registry_key,
)

T = TypeVar("T")
_Waiter = tuple[tuple[str, int, int, str], "asyncio.Future[Any]"]


class ProducerQueue:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.login = redis_login(settings)
        self.client = connect_async(settings, socket_timeout=settings.redis_timeout_s)
        self.partitions = configured(settings)
        self.bound = bound_per_partition(settings)
        # One outage per partition: on a cluster one shard may fail over while
        # the others answer. The first one's is also that of every other call.
        many = len(self.partitions) > 1
        self.outages = [Outage(p.stream_key if many else "") for p in self.partitions]
        self.outage = self.outages[0]
        self._in_flight = [0] * len(self.partitions)  # enqueue calls, per partition
        self._turn = 0  # the partition this loop turn's messages go to
        # Consumers with another QUEUE_PARTITIONS find these partitions in the
        # registry: written at start, or before the first enqueue if Redis was
        # not there at start.
        self._registered = len(self.partitions) == 1
        self._waiting: list[_Waiter] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def _call(
        self, call: Callable[[], Awaitable[T]], requests: int = 1, outage: Outage | None = None
    ) -> T:
        """`call()` within REDIS_TIMEOUT_S; any failure but a plain answer error
        (NOGROUP, BUSYGROUP, ...) is an outage (of `outage`, by default the
        first partition's), raised as a RedisError or a QueueUnavailable."""
        outage = outage or self.outage
        attempt = asyncio.ensure_future(retry_refused_async(call, self.login, login_refused))
        # asyncio.wait, not asyncio.timeout: a cancelled cluster client awaits
        # its own clean-up (closing every node's connections) before it lets
        # go, seconds during a failover; the caller must not wait for that.
        await asyncio.wait({attempt}, timeout=self.settings.redis_timeout_s)
        if not attempt.done():
            attempt.cancel()
            attempt.add_done_callback(_retrieve)
            exc: BaseException = TimeoutError(f"no answer within {self.settings.redis_timeout_s} s")
            outage.failed(exc, requests)
            raise QueueUnavailable(str(exc))
        try:
            result = attempt.result()
        except ResponseError as exc:
            if not isinstance(exc, ClusterError | TryAgainError):
                raise  # Redis answered: not an outage
            outage.failed(exc, requests)
            raise
        except (RedisError, QueueUnavailable) as exc:
            outage.failed(exc, requests)
            raise
        except Exception as exc:  # the client's own failure (seen: AttributeError mid-failover)
            outage.failed(exc, requests)
            raise QueueUnavailable(f"Redis client failed: {type(exc).__name__}") from exc
        outage.answered()
        return result

    async def ensure_group(self, partitions: list[Partition] | None = None) -> None:
        """Register the partitions beyond the first (before anything is written to
        them: consumers find them there), then create each one's group."""
        s = self.settings
        partitions = self.partitions if partitions is None else partitions
        extra = [p.tag for p in partitions if p.tag != s.redis_queue]
        if extra:
            await self._call(lambda: self.client.sadd(registry_key(s), *extra))
            self._registered = self._registered or partitions is self.partitions
        for p in partitions:
            try:
                create = partial(self.client.xgroup_create, id="0", mkstream=True)
                await self._call(partial(create, p.stream_key, s.group))
            except ResponseError as exc:
                raise_unless_busygroup(exc)

    async def enqueue(self, count: int, traceparent: str | None = None) -> str:
        """Append one message; its id. BacklogFull when the stream is at its bound.
        A traceparent (countq.tracing) goes into the entry as a field of its own."""
        message_id, count, enqueued_ms = new_message(count)
        n = len(self.partitions)
        if n > 1:  # one partition per loop turn, in turn (partitions.in_partition)
            if not self._waiting:
                self._turn = self._next_turn()
            message_id = in_partition(message_id, self._turn, n)
        message = (message_id, count, enqueued_ms, traceparent or "")
        await self._send(message)
        return message[0]

    def _send(self, message: tuple[str, int, int, str]) -> asyncio.Future[Any]:
        """Queue one message; those that arrive in the same loop turn share one call.

        Under load this turns N round trips (and N reply parses) into one,
        which is most of the producer's cost per request.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((message, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._start_flush)
        return future

    def _next_turn(self) -> int:
        """The next partition in turn that answers, or that no call is probing:
        while one shard fails over, the turns go to the others, and one turn
        at a time finds out whether it is back."""
        n = len(self.partitions)
        for step in range(1, n + 1):
            i = (self._turn + step) % n
            if not (self.outages[i].ongoing and self._in_flight[i]):
                return i
        return (self._turn + 1) % n

    def _start_flush(self) -> None:
        """One script call per partition the loop turn's messages are in (one,
        unless ids came from elsewhere); a failure answers only its waiters."""
        batch, self._waiting = self._waiting, []
        by_partition: dict[int, list[_Waiter]] = {}
        n = len(self.partitions)
        for waiter in batch:
            by_partition.setdefault(index_of(waiter[0][0], n) if n > 1 else 0, []).append(waiter)
        for i, part in by_partition.items():
            if self.outages[i].ongoing and self._in_flight[i]:
                # Fail fast while Redis is down (a cluster slot with no primary
                # yet): one flush at a time probes it, the rest answer 503 at
                # once instead of each waiting out REDIS_TIMEOUT_S.
                self.outages[i].refused_fast(len(part))
                refused = QueueUnavailable("Redis is unavailable; another call is probing it")
                for _, future in part:
                    future.set_exception(refused)
                continue
            task = asyncio.create_task(self._flush(i, part))
            self._flushes.add(task)  # keep a reference until it is done
            task.add_done_callback(self._flushes.discard)

    async def _flush(self, index: int, batch: list[_Waiter]) -> None:
        messages = (message for message, _ in batch)
        call = keys.enqueue_call(self.partitions[index].tag, self.bound, messages)
        outage = self.outages[index]
        self._in_flight[index] += 1
        try:
            if not self._registered:
                await self._register()
            entries = await self._call(lambda: self._enqueue(*call), len(batch), outage)
        except Exception as exc:  # every waiter gets the failure, never silence
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        finally:
            self._in_flight[index] -= 1
        for (_, future), entry in zip(batch, entries, strict=True):
            if future.done():
                continue
            if isinstance(entry, ResponseError):  # this message refused, the others not
                future.set_exception(refusal(entry, self.bound))
            else:
                future.set_result(entry)

    async def _enqueue(self, script_keys: list[str], args: list[Any]) -> list[Any]:
        """The enqueue script; with REDIS_WAIT_REPLICAS=N, then WAIT N on the same
        connection (WAIT counts the replicas that have this connection's
        writes), so one WAIT covers the whole batch."""
        replicas = self.settings.redis_wait_replicas
        if not replicas:
            return await self.client.eval(ENQUEUE_LUA, 1, *script_keys, *args)  # type: ignore[no-any-return]
        # Half the request's budget, so a missing replica is a 503 in time.
        wait_ms = max(1, int(self.settings.redis_timeout_s * 500))
        pipe: Any = self.client.pipeline(transaction=False)
        pipe.eval(ENQUEUE_LUA, 1, *script_keys, *args)
        if isinstance(self.client, RedisCluster):
            # Both on the stream's primary, in one node pipeline (one connection).
            node = self.client.get_node_from_key(script_keys[0])
            pipe.execute_command("WAIT", replicas, wait_ms, target_nodes=node)
            try:
                # No redirection: a script re-sent alone elsewhere would not be
                # the write this WAIT counts.
                entries, acked_by = await pipe.execute(allow_redirections=False)
            except (MovedError, AskError):
                await self.client.aclose()  # the slot moved: read the topology again
                raise
        else:
            pipe.execute_command("WAIT", replicas, wait_ms)
            entries, acked_by = await pipe.execute()
        if int(acked_by) < replicas:
            raise NotReplicated(
                f"{acked_by} of {replicas} replicas have the write after {wait_ms} ms"
            )
        return entries  # type: ignore[no-any-return]

    async def _register(self) -> None:
        s = self.settings
        extra = [p.tag for p in self.partitions[1:]]
        await self._call(lambda: self.client.sadd(registry_key(s), *extra))
        self._registered = True

    async def ping(self) -> None:
        await self._call(self.client.ping)

    async def known_partitions(self) -> list[Partition]:
        """The configured partitions and every registered one."""
        registered = await self._call(lambda: self.client.smembers(registry_key(self.settings)))
        return known(self.settings, {str(tag) for tag in registered})

    async def stats(self) -> QueueStats:
        partitions = await self.known_partitions()

        def figures() -> Awaitable[list[Any]]:
            pipe = stats_pipeline(self.client, self.settings, partitions)
            return pipe.execute()  # type: ignore[no-any-return]

        try:
            results = await self._call(figures)
        except ResponseError as exc:
            if "no such key" not in str(exc).lower():
                raise
            await self.ensure_group(partitions)  # a stream was deleted: recreate it, empty
            results = await self._call(figures)
        return stats_from(results, self.settings, partitions)

    async def end_to_end(self) -> tuple[float | None, float | None]:
        """p50 and p99 (s) of the last minute's end-to-end times (queue/latency.py)."""

        def window() -> Awaitable[list[Any]]:
            return latency.window_pipeline(self.client, self.settings).execute()  # type: ignore[no-any-return]

        replies = await self._call(window)
        buckets = latency.merge(replies)
        return latency.quantile_seconds(buckets, 0.5), latency.quantile_seconds(buckets, 0.99)

    async def close(self) -> None:
        await self.client.aclose()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """An abandoned call's outcome, read so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()
