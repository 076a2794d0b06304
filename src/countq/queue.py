"""The Redis Stream queue: one stream, one consumer group, one dead-letter stream.

Every key carries the same hash tag ({REDIS_QUEUE}) so scripts and MULTI work on
a Redis Cluster too. Acked entries are removed by the same script call that
acks them, so XLEN is exactly "not yet stored" and nothing is ever trimmed
unconsumed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from countq.config import Settings

log = logging.getLogger(__name__)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Check the bound and append atomically in one round trip: refusing is the only
# way to stay bounded without dropping unconsumed entries. ARGV: the bound,
# then id, count, ts per message; returns per message its entry id, or 0 when
# the stream was at the bound.
ENQUEUE_LUA = """
local length = redis.call('XLEN', KEYS[1])
local bound = tonumber(ARGV[1])
local added = {}
for i = 2, #ARGV, 3 do
  if length >= bound then
    added[#added + 1] = 0
  else
    added[#added + 1] = redis.call('XADD', KEYS[1], '*',
      'id', ARGV[i], 'count', ARGV[i + 1], 'ts', ARGV[i + 2])
    length = length + 1
  end
end
return added
"""

# Ack and remove together, so an acked entry never lingers in XLEN (a script
# works on a cluster too, where MULTI across a pipeline is not available).
# Everything older than both the oldest pending entry and the first entry not
# yet delivered has been acked, so it is trimmed in one XTRIM MINID, far
# cheaper than XDEL id by id; only acked ids above that floor (another
# consumer still holds an older batch) are deleted one by one.
# ARGV: group, then the entry ids to ack.
ACK_LUA = """
local stream, group = KEYS[1], ARGV[1]
redis.call('XACK', stream, group, unpack(ARGV, 2))

local function id_parts(id)
  local ms, seq = string.match(id, '(%d+)-(%d+)')
  return tonumber(ms), tonumber(seq)
end
local function older(id, than_ms, than_seq)
  local ms, seq = id_parts(id)
  return ms < than_ms or (ms == than_ms and seq < than_seq)
end

local floor = nil
local pending = redis.call('XPENDING', stream, group)
if pending[1] > 0 then floor = pending[2] end
for _, fields in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local info = {}
  for i = 1, #fields, 2 do info[fields[i]] = fields[i + 1] end
  if info['name'] == group then
    local undelivered = redis.call('XRANGE', stream,
      '(' .. info['last-delivered-id'], '+', 'COUNT', 1)[1]
    if undelivered and (floor == nil or older(undelivered[1], id_parts(floor))) then
      floor = undelivered[1]
    end
  end
end
if floor == nil then  -- every entry was delivered and acked
  return redis.call('XTRIM', stream, 'MAXLEN', 0)
end
local removed = redis.call('XTRIM', stream, 'MINID', floor)
local floor_ms, floor_seq = id_parts(floor)
local above = {}
for i = 2, #ARGV do
  if not older(ARGV[i], floor_ms, floor_seq) then above[#above + 1] = ARGV[i] end
end
if #above > 0 then removed = removed + redis.call('XDEL', stream, unpack(above)) end
return removed
"""

# ARGV: group, entry id, then field/value pairs for the dead-letter record.
DEAD_LETTER_LUA = """
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""

# A few hundred milliseconds in all, then the caller answers 503.
CONNECT_TIMEOUT_S = 0.2
RETRIES = 2


class BacklogFull(Exception):
    """The stream holds MAX_BACKLOG unstored messages; the producer must refuse."""


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7 (RFC 9562): unique ids that keep the index append-mostly."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 66 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


@dataclass(frozen=True, slots=True)
class Message:
    entry_id: str
    message_id: bytes
    count: int
    enqueued_ms: int


def parse_entry(entry_id: str, fields: dict[str, str] | None) -> Message:
    """Validate one stream entry; ValueError means it can never be stored (poison)."""
    if not fields:
        raise ValueError("entry has no fields (deleted or empty)")
    try:
        message_id = uuid.UUID(fields["id"]).bytes
        count = int(fields["count"])
        enqueued_ms = int(fields["ts"])
    except KeyError as exc:
        raise ValueError(f"missing field {exc.args[0]!r}") from None
    if not INT64_MIN <= count <= INT64_MAX:
        raise ValueError(f"count {count} outside the BIGINT range")
    return Message(entry_id, message_id, count, enqueued_ms)


def _credentials(settings: Settings, refresh: bool = False) -> tuple[str | None, str | None]:
    if settings.redis_secret_arn:
        from countq.secrets import get_secret

        secret = get_secret(settings.redis_secret_arn, refresh=refresh)
        return secret.get("username"), secret.get("password")
    return settings.redis_username, settings.redis_password


def connect(
    settings: Settings,
    *,
    socket_timeout: float,
    refresh_credentials: bool = False,
    use_asyncio: bool = False,
) -> Any:
    """A client, standalone or cluster, TLS per the URL scheme, with bounded retries.

    The producer uses the asyncio flavour, the consumer the synchronous one.
    """
    lib, retry = (aredis, AsyncRetry) if use_asyncio else (redis, Retry)
    username, password = _credentials(settings, refresh_credentials)
    kwargs: dict[str, Any] = {
        "username": username,
        "password": password,
        "decode_responses": True,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": socket_timeout,
        "health_check_interval": 30,
        "retry": retry(ExponentialBackoff(cap=0.1, base=0.02), RETRIES),
    }
    url = settings.effective_redis_url()
    if settings.redis_cluster:
        return lib.RedisCluster.from_url(url, **kwargs)
    return lib.Redis.from_url(
        url, retry_on_error=[RedisConnectionError, RedisTimeoutError], max_connections=256, **kwargs
    )


def _stats_pipeline(client: Any, s: Settings) -> Any:
    """One round trip for every queue figure (sync and asyncio pipelines alike)."""
    pipe = client.pipeline(transaction=False)
    pipe.xlen(s.stream_key)
    pipe.xpending(s.stream_key, s.group)
    pipe.xlen(s.dead_key)
    pipe.xrange(s.stream_key, count=1)
    pipe.xinfo_groups(s.stream_key)
    return pipe


def _stats_from(results: list[Any], s: Settings) -> dict[str, Any]:
    length, pending, dead, oldest, groups = results
    pending_count = int(pending["pending"])
    oldest_age = 0.0
    if oldest:  # entry ids start with their enqueue time in ms
        oldest_ms = int(oldest[0][0].split("-")[0])
        oldest_age = max(0.0, time.time() - oldest_ms / 1000)
    return {
        "backlog": max(0, int(length) - pending_count),
        "pending": pending_count,
        "dead_letters": int(dead),
        "oldest_age_seconds": round(oldest_age, 3),
        "consumers": sum(int(g["consumers"]) for g in groups if g["name"] == s.group),
    }


def _is_busygroup(exc: ResponseError) -> bool:
    return "BUSYGROUP" in str(exc)


class ProducerQueue:
    """The producer's side: enqueue with a bound, read queue statistics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = self._connect(refresh_credentials=False)
        self._waiting: list[tuple[tuple[str, int, int], asyncio.Future[Any]]] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def reconnect(self, refresh_credentials: bool) -> None:
        await self.close()
        self.client = self._connect(refresh_credentials)

    def _connect(self, refresh_credentials: bool) -> Any:
        return connect(
            self.settings,
            socket_timeout=1.0,
            refresh_credentials=refresh_credentials,
            use_asyncio=True,
        )

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(
                self.settings.stream_key, self.settings.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if not _is_busygroup(exc):
                raise

    async def enqueue(self, count: int) -> str:
        message_id = str(uuid7())
        now_ms = time.time_ns() // 1_000_000
        entry = await self._send((message_id, count, now_ms))
        if not entry:
            raise BacklogFull(f"backlog is at its bound of {self.settings.max_backlog} messages")
        return message_id

    def _send(self, message: tuple[str, int, int]) -> asyncio.Future[Any]:
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

    def _start_flush(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.create_task(self._flush(batch))
        self._flushes.add(task)  # keep a reference until it is done
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: list[tuple[tuple[str, int, int], asyncio.Future[Any]]]) -> None:
        args = [self.settings.max_backlog, *(field for message, _ in batch for field in message)]
        try:
            # EVAL, not EVALSHA: the script is small and never meets NOSCRIPT
            # after a Redis restart or failover.
            entries = await self.client.eval(ENQUEUE_LUA, 1, self.settings.stream_key, *args)
        except Exception as exc:  # every waiter gets the failure, never silence
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), entry in zip(batch, entries, strict=True):
            if not future.done():
                future.set_result(entry)

    async def ping(self) -> None:
        await self.client.ping()

    async def stats(self) -> dict[str, Any]:
        try:
            results = await _stats_pipeline(self.client, self.settings).execute()
        except ResponseError as exc:
            if "no such key" not in str(exc).lower():
                raise
            await self.ensure_group()
            results = await _stats_pipeline(self.client, self.settings).execute()
        return _stats_from(results, self.settings)

    async def close(self) -> None:
        await self.client.aclose()


class ConsumerQueue:
    """The consumer's side: read batches, reclaim stale entries, ack, dead-letter."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._connect(refresh_credentials=False)

    def _connect(self, refresh_credentials: bool) -> None:
        # The blocking read must end well before the socket times out.
        timeout = self.settings.consumer_block_ms / 1000 + 5
        self.client = connect(
            self.settings, socket_timeout=timeout, refresh_credentials=refresh_credentials
        )
        self._ack = self.client.register_script(ACK_LUA)
        self._dead_letter = self.client.register_script(DEAD_LETTER_LUA)

    def reconnect(self, refresh_credentials: bool) -> None:
        self.client.close()
        self._connect(refresh_credentials)

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(
                self.settings.stream_key, self.settings.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if not _is_busygroup(exc):
                raise

    def read_new(self, block_ms: int) -> list[tuple[str, dict[str, str] | None]]:
        s = self.settings
        reply = self.client.xreadgroup(
            s.group, self.name, {s.stream_key: ">"}, count=s.consumer_batch_size, block=block_ms
        )
        if not reply:
            return []
        # Standalone replies are [[key, entries]]; RESP3/cluster may give a dict.
        if isinstance(reply, dict):
            return list(next(iter(reply.values()))[0])
        return list(reply[0][1])

    def claim_stale(self) -> list[tuple[str, dict[str, str] | None, int]]:
        """Take over entries idle on dead consumers, with their delivery counts."""
        s = self.settings
        _next, entries, *_deleted = self.client.xautoclaim(
            s.stream_key, s.group, self.name, s.claim_idle_ms, "0-0", count=s.consumer_batch_size
        )
        if not entries:
            return []
        ids = [entry_id for entry_id, _ in entries]
        details = self.client.xpending_range(
            s.stream_key,
            s.group,
            min=ids[0],
            max=ids[-1],
            count=len(ids) * 2,
            consumername=self.name,
        )
        deliveries = {d["message_id"]: int(d["times_delivered"]) for d in details}
        return [(eid, fields, deliveries.get(eid, 1)) for eid, fields in entries]

    def ack(self, entry_ids: list[str]) -> None:
        if not entry_ids:
            return
        self._ack(keys=[self.settings.stream_key], args=[self.settings.group, *entry_ids])

    def dead_letter(self, entry_id: str, fields: dict[str, str] | None, reason: str) -> None:
        """Move one entry to the dead-letter stream and ack it, atomically."""
        s = self.settings
        record = {**(fields or {}), "source_entry": entry_id, "reason": reason[:500]}
        pairs = [item for kv in record.items() for item in kv]
        self._dead_letter(keys=[s.stream_key, s.dead_key], args=[s.group, entry_id, *pairs])
        log.warning("dead-lettered entry %s: %s", entry_id, reason)

    def stats(self) -> dict[str, Any]:
        return _stats_from(_stats_pipeline(self.client, self.settings).execute(), self.settings)

    def leave_group(self) -> None:
        """Remove this consumer's name if it holds nothing, so XINFO stays tidy."""
        s = self.settings
        pending = self.client.xpending_range(
            s.stream_key, s.group, min="-", max="+", count=1, consumername=self.name
        )
        if not pending:
            self.client.xgroup_delconsumer(s.stream_key, s.group, self.name)

    def close(self) -> None:
        self.client.close()
