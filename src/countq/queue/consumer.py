"""The consumer's side of the queue: read batches, take over entries of dead
consumers, ack, dead-letter (synchronous)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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
from countq.queue.partitions import Partition, base, configured, known, registry_key

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a dead or demoted node looks like to a cluster client: the topology it
# holds is stale, and must be read again before the next try.
_NODE_GONE = (RedisConnectionError, RedisTimeoutError, ClusterDownError, SlotNotCoveredError)

StreamEntry = tuple[str, dict[str, str] | None]
"""An entry as Redis returns it: its id, and its fields (None once it was deleted)."""

# How often a consumer reads the partition registry again: a partition added
# by a producer with a larger QUEUE_PARTITIONS is served within this time.
DISCOVER_EVERY_S = 2.0


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
        self.partitions = configured(settings)
        self._next_discovery = 0.0
        self._read_from = 0  # the partition the next read starts at
        self._claim_from = 0
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
        at the (first partition's) stream's own primary, refreshed after each
        failure, means the consumer needs no node it does not read from.
        """
        if not isinstance(self.client, RedisCluster):
            return
        cluster: Any = self.client  # redis-py leaves these two untyped
        try:
            cluster.nodes_manager.initialize()
            base_stream = base(self.settings).stream_key
            cluster.replace_default_node(cluster.get_node_from_key(base_stream))
        except (RedisError, RedisClusterException) as exc:
            # No node answered: the next failure tries again.
            log.debug("cluster topology not refreshed: %s", exc)

    def ensure_group(self) -> None:
        """Every known partition has its group (the registry read again first)."""
        self.discover(force=True)

    def discover(self, force: bool = False) -> list[Partition]:
        """The configured partitions and every registered one, read from the
        registry at most every DISCOVER_EVERY_S; a new one gets its group."""
        if not force and time.monotonic() < self._next_discovery:
            return self.partitions
        s = self.settings
        extra = [p.tag for p in configured(s) if p.tag != s.redis_queue]
        if extra:  # a consumer may start first: its own partitions are registered too
            self._call(lambda: self.client.sadd(registry_key(s), *extra))
        registered: Any = self._call(lambda: self.client.smembers(registry_key(s)))
        found = known(s, set(registered))
        for p in found if force else [p for p in found if p not in self.partitions]:
            try:
                create = partial(self.client.xgroup_create, id="0", mkstream=True)
                self._call(partial(create, p.stream_key, s.group))
            except ResponseError as exc:
                raise_unless_busygroup(exc)
        self.partitions = found
        self._next_discovery = time.monotonic() + DISCOVER_EVERY_S
        return found

    def read_next(self, block_ms: int) -> tuple[Partition, list[StreamEntry]]:
        """New entries from one partition, every partition served in turn.

        One XREADGROUP cannot span slots on a cluster, and a blocking read on
        one partition would leave the others waiting. So: a non-blocking read
        of each partition, starting after the one served last, and the first
        that has entries is the answer; only when all are empty, one short
        blocking read on the partition whose turn it is. Under load each
        partition gets one batch in every N reads.

        A partition whose shard fails over is passed over while another
        answers, so the others drain meanwhile; when none answers, the error
        goes up (the worker's Retry waits and tries again).
        """
        partitions = self.discover()
        n = len(partitions)
        answered: Partition | None = partitions[0] if n == 1 else None
        failure: Exception | None = None
        for step in range(n if n > 1 else 0):
            partition = partitions[(self._read_from + step) % n]
            try:
                entries = self.read_new(None, partition)
            except _NODE_GONE as exc:
                failure = exc
                continue
            answered = answered or partition
            if entries:
                self._read_from = (self._read_from + step + 1) % n
                return partition, entries
        if answered is None and failure is not None:
            self._read_from = (self._read_from + 1) % n
            raise failure
        partition = partitions[self._read_from % n]
        self._read_from = (self._read_from + 1) % n
        if failure is not None and answered is not None:  # wait on one that answers
            partition = answered
        return partition, self.read_new(block_ms, partition)

    def read_new(
        self, block_ms: int | None, partition: Partition | None = None
    ) -> list[StreamEntry]:
        """One read of one partition (the first by default); block_ms None: no wait."""
        s = self.settings
        partition = partition or base(s)
        reply: Any = self._call(
            lambda: self.client.xreadgroup(
                s.group,
                self.name,
                {partition.stream_key: ">"},
                count=s.consumer_batch_size,
                block=block_ms,
            )
        )
        if not reply:
            return []
        # Standalone replies are [[key, entries]]; RESP3/cluster may give a dict.
        if isinstance(reply, dict):
            return list(next(iter(reply.values()))[0])
        return list(reply[0][1])

    def claim_next(self) -> tuple[Partition, list[Claimed]] | None:
        """Stale entries of one partition, trying each in turn from the one after
        the last that had some; None when no partition has any."""
        partitions = self.discover()
        n = len(partitions)
        failures = 0
        for step in range(n):
            partition = partitions[(self._claim_from + step) % n]
            try:
                claimed = self.claim_stale(partition)
            except _NODE_GONE:
                failures += 1
                if failures == n:  # none answered: up to the worker's Retry
                    raise
                continue  # its shard fails over: the others are served meanwhile
            if claimed:
                self._claim_from = (self._claim_from + step + 1) % n
                return partition, claimed
        return None

    def claim_stale(self, partition: Partition | None = None) -> list[Claimed]:
        """Take over entries idle on dead consumers, with their delivery counts."""
        s = self.settings
        key = (partition or base(s)).stream_key
        claimed: Any = self._call(
            lambda: self.client.xautoclaim(
                key, s.group, self.name, s.claim_idle_ms, "0-0", count=s.consumer_batch_size
            )
        )
        entries: list[StreamEntry] = claimed[1]
        if not entries:
            return []
        details: Any = self._call(
            lambda: self.client.xpending_range(
                key,
                s.group,
                min=entries[0][0],
                max=entries[-1][0],
                count=len(entries) * 2,
                consumername=self.name,
            )
        )
        deliveries = {d["message_id"]: int(d["times_delivered"]) for d in details}
        return [Claimed(eid, fields, deliveries.get(eid, 1)) for eid, fields in entries]

    def ack(self, entry_ids: list[str], partition: Partition | None = None) -> None:
        """Ack and remove the entries of one partition (one script call)."""
        if entry_ids:
            partition = partition or base(self.settings)
            script_keys, args = keys.ack_call(partition.tag, entry_ids)
            self._call(lambda: self._ack(keys=script_keys, args=args))

    def dead_letter(
        self,
        entry_id: str,
        fields: dict[str, str] | None,
        reason: str,
        partition: Partition | None = None,
    ) -> None:
        """Move one entry to its partition's dead-letter stream and ack it, atomically."""
        partition = partition or base(self.settings)
        call = keys.dead_letter_call(partition.tag, entry_id, fields or {}, reason[:500])
        script_keys, args = call
        self._call(lambda: self._dead_letter(keys=script_keys, args=args))
        ids = {"entry_id": entry_id, "message_id": (fields or {}).get(keys.ID)}
        log.warning(
            "dead-lettered entry %s of %s: %s", entry_id, partition.stream_key, reason, extra=ids
        )

    def stats(self) -> QueueStats:
        partitions = self.discover()
        pipe = lambda: stats_pipeline(self.client, self.settings, partitions).execute()  # noqa: E731
        return stats_from(self._call(pipe), self.settings, partitions)

    def leave_group(self) -> None:
        """Remove this consumer's name where it holds nothing, so XINFO stays tidy."""
        s = self.settings
        for p in self.partitions:
            held = partial(self.client.xpending_range, min="-", max="+", count=1)
            pending: Any = self._call(partial(held, p.stream_key, s.group, consumername=self.name))
            if not pending:
                self._call(
                    partial(self.client.xgroup_delconsumer, p.stream_key, s.group, self.name)
                )

    def close(self) -> None:
        self.client.close()
