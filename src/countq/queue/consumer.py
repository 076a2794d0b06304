"""The consumer's side of the queue: read batches, take over entries of dead
consumers, ack, dead-letter (synchronous)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.cluster import RedisCluster
from redis.exceptions import (
    ClusterDownError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from countq.config import Settings
from countq.credentials import retry_refused
from countq.queue import keys
from countq.queue.client import (
    ACK_LUA,
    DEAD_LETTER_LUA,
    QueueStats,
    connect,
    login_refused,
    raise_unless_busygroup,
    redis_login,
    stats_from,
    stats_pipeline,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a dead or demoted node looks like to a cluster client: the topology it
# holds is stale, and must be read again before the next try.
_NODE_GONE = (RedisConnectionError, RedisTimeoutError, ClusterDownError, SlotNotCoveredError)

StreamEntry = tuple[str, dict[str, str] | None]
"""An entry as Redis returns it: its id, and its fields (None once it was deleted)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """An entry taken over from a consumer that stopped answering."""

    entry_id: str
    fields: dict[str, str] | None
    deliveries: int


class ConsumerQueue:
    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.login = redis_login(settings)
        # The blocking read must end well before the socket times out.
        timeout = settings.consumer_block_ms / 1000 + 5
        self.client = connect(settings, socket_timeout=timeout)
        self._ack = self.client.register_script(ACK_LUA)
        self._dead_letter = self.client.register_script(DEAD_LETTER_LUA)
        self.refresh_topology()

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return retry_refused(call, self.login, login_refused)
        except _NODE_GONE:
            self.refresh_topology()
            raise  # the worker's Retry waits, then tries again on the new topology

    def refresh_topology(self) -> None:
        """Cluster only: read the slot map again, and make the stream's primary the
        client's default node.

        redis-py resolves the key of XREADGROUP (and other commands it has no
        table for) with COMMAND GETKEYS on its default node, the primary of
        slot 0, before its own retry loop starts. When that node dies, every
        read fails there and the client never refreshes its slot map, so a
        consumer would retry the dead node forever. Pointing the default node
        at the stream's own primary, refreshed after each failure, means the
        consumer needs exactly the one node it reads from.
        """
        if not isinstance(self.client, RedisCluster):
            return
        cluster: Any = self.client  # redis-py leaves these two untyped
        try:
            cluster.nodes_manager.initialize()
            cluster.replace_default_node(cluster.get_node_from_key(self.settings.stream_key))
        except (RedisError, RedisClusterException) as exc:
            # No node answered: the next failure tries again.
            log.debug("cluster topology not refreshed: %s", exc)

    def ensure_group(self) -> None:
        s = self.settings
        try:
            self._call(
                lambda: self.client.xgroup_create(s.stream_key, s.group, id="0", mkstream=True)
            )
        except ResponseError as exc:
            raise_unless_busygroup(exc)

    def read_new(self, block_ms: int) -> list[StreamEntry]:
        s = self.settings
        reply: Any = self._call(
            lambda: self.client.xreadgroup(
                s.group, self.name, {s.stream_key: ">"}, count=s.consumer_batch_size, block=block_ms
            )
        )
        if not reply:
            return []
        # Standalone replies are [[key, entries]]; RESP3/cluster may give a dict.
        if isinstance(reply, dict):
            return list(next(iter(reply.values()))[0])
        return list(reply[0][1])

    def claim_stale(self) -> list[Claimed]:
        """Take over entries idle on dead consumers, with their delivery counts."""
        s = self.settings
        claimed: Any = self._call(
            lambda: self.client.xautoclaim(
                s.stream_key,
                s.group,
                self.name,
                s.claim_idle_ms,
                "0-0",
                count=s.consumer_batch_size,
            )
        )
        entries: list[StreamEntry] = claimed[1]
        if not entries:
            return []
        details: Any = self._call(
            lambda: self.client.xpending_range(
                s.stream_key,
                s.group,
                min=entries[0][0],
                max=entries[-1][0],
                count=len(entries) * 2,
                consumername=self.name,
            )
        )
        deliveries = {d["message_id"]: int(d["times_delivered"]) for d in details}
        return [Claimed(eid, fields, deliveries.get(eid, 1)) for eid, fields in entries]

    def ack(self, entry_ids: list[str]) -> None:
        """Ack and remove the entries (one script call)."""
        if entry_ids:
            script_keys, args = keys.ack_call(self.settings.redis_queue, entry_ids)
            self._call(lambda: self._ack(keys=script_keys, args=args))

    def dead_letter(self, entry_id: str, fields: dict[str, str] | None, reason: str) -> None:
        """Move one entry to the dead-letter stream and ack it, atomically."""
        queue = self.settings.redis_queue
        script_keys, args = keys.dead_letter_call(queue, entry_id, fields or {}, reason[:500])
        self._call(lambda: self._dead_letter(keys=script_keys, args=args))
        ids = {"entry_id": entry_id, "message_id": (fields or {}).get(keys.ID)}
        log.warning("dead-lettered entry %s: %s", entry_id, reason, extra=ids)

    def stats(self) -> QueueStats:
        results = self._call(lambda: stats_pipeline(self.client, self.settings).execute())
        return stats_from(results, self.settings)

    def leave_group(self) -> None:
        """Remove this consumer's name if it holds nothing, so XINFO stays tidy."""
        s = self.settings
        pending: Any = self._call(
            lambda: self.client.xpending_range(
                s.stream_key, s.group, min="-", max="+", count=1, consumername=self.name
            )
        )
        if not pending:
            self._call(lambda: self.client.xgroup_delconsumer(s.stream_key, s.group, self.name))

    def close(self) -> None:
        self.client.close()
