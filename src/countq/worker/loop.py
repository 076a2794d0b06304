"""The consumer's loop: Redis stream -> MySQL in batches, ack only after commit.

Reliability model:
- read a batch (XREADGROUP), insert it in one transaction (duplicates skipped by
  the unique message id), commit, then ack and remove the entries (one script
  call). A crash anywhere leaves the entries pending; they are stored exactly
  once whatever happens. The next batch is read while this one is committed.
- entries idle on a dead consumer are reclaimed (XAUTOCLAIM); one delivered
  MAX_DELIVERIES times, or that can never be stored, goes to the dead-letter
  stream with the reason.
- a database or Redis outage is retried with capped backoff, forever, keeping
  the batch in hand; a stop (SIGTERM) hands the batch back unacked and exits.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from countq import tracing
from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.db.seen import already_stored
from countq.messages import Message, parse_entry
from countq.queue.consumer import ConsumerQueue
from countq.queue.partitions import Partition
from countq.worker.metrics import BATCH_SECONDS, DEAD, DUPLICATES, END_TO_END, STORED, just_stored
from countq.worker.retry import Retry, Stopping

log = logging.getLogger(__name__)

CLAIM_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class Rejected:
    """An entry that goes to the dead-letter stream, and why."""

    entry_id: str
    fields: dict[str, str] | None
    reason: str


@dataclass
class Batch:
    """One fetch, from one partition: the messages to store, and the entries to dead-letter."""

    partition: Partition
    messages: list[Message] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    redelivered: bool = False  # reclaimed: some may be stored already

    @property
    def size(self) -> int:
        return len(self.messages) + len(self.rejected)

    def add(self, entry_id: str, fields: dict[str, str] | None) -> None:
        try:
            self.messages.append(parse_entry(entry_id, fields))
        except ValueError as exc:
            self.rejected.append(Rejected(entry_id, fields, f"invalid message: {exc}"))


def consumer_name() -> str:
    """host-pid-random: containers on the host network share the host's name and
    may share a pid (each counts from 1), so the suffix keeps two of them from
    reading as one consumer (one would reclaim and ack the other's entries)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class Consumer:
    def __init__(
        self, settings: Settings, name: str | None = None, alive: Callable[[], None] = lambda: None
    ) -> None:
        self.settings = settings
        self.name = name or consumer_name()
        self.stopping = threading.Event()
        self.queue = ConsumerQueue(settings, self.name)
        self.engine = create_engine(settings, pool_size=1)
        # Each consumer adds to its own row of the summary, so two of them
        # rarely wait on one row lock (repo.summary_shard says how it is picked).
        self.shard = repo.summary_shard(self.name, settings.summary_shards)
        self.alive = alive
        self.retry = Retry(self.stopping, self.queue.ensure_group)
        self._next_claim = 0.0

    def run(self) -> None:
        """Until stopped. While this thread commits one batch, one thread reads
        and parses the next and another acks the one before, so the database's
        wait overlaps every Redis round trip (bench/bench_drain.py). An ack is
        queued only after its batch's commit. Entries read ahead or not yet
        acked are pending under this consumer like the batch in hand: a crash
        or a stop leaves them to be reclaimed, never lost."""
        log.info(
            "consumer %s reading %s (%d partition(s)), summary row %d of %d",
            self.name,
            self.settings.stream_key,
            self.settings.queue_partitions,
            self.shard,
            self.settings.summary_shards,
        )
        try:
            self.retry("redis", self.queue.ensure_group)
            with (
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as reader,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="ack") as acker,
            ):
                ahead: Future[Batch] | None = None
                acked: Future[None] | None = None
                while not self.stopping.is_set():
                    self.alive()
                    batch = ahead.result() if ahead else self.fetch()
                    ahead = reader.submit(self.fetch) if batch.size else None
                    stored = self.handle(batch)
                    if acked:
                        acked.result()  # raises what the last ack raised (Stopping)
                    acked = acker.submit(self.ack, batch.partition, stored)
                if acked:
                    acked.result()
        except Stopping:
            pass  # what this consumer holds stays pending, for the next one
        Retry.once("redis", self.queue.leave_group)
        self.queue.close()
        self.engine.dispose()
        log.info("consumer %s stopped", self.name)

    def run_once(self) -> int:
        """Fetch, store and ack one batch, in this thread. Returns how many entries."""
        batch = self.fetch()
        self.ack(batch.partition, self.handle(batch))
        return batch.size

    def fetch(self) -> Batch:
        """Reclaim stale entries when due, else read new ones; parse what came.
        Every partition is served in turn (ConsumerQueue.read_next)."""
        if time.monotonic() >= self._next_claim:
            found = self.retry("redis", self.queue.claim_next)
            if found is None:  # none stale anywhere: look again in a while
                self._next_claim = time.monotonic() + CLAIM_EVERY_S
            else:  # another partition may have some too: the next fetch looks
                partition, claimed = found
                batch = Batch(partition, redelivered=True)
                for c in claimed:
                    if c.deliveries > self.settings.max_deliveries:
                        reason = f"delivered {c.deliveries} times, never stored"
                        batch.rejected.append(Rejected(c.entry_id, c.fields, reason))
                    else:
                        batch.add(c.entry_id, c.fields)
                return batch
        block = self.settings.consumer_block_ms
        partition, entries = self.retry("redis", lambda: self.queue.read_next(block))
        batch = Batch(partition)
        for entry_id, fields in entries:
            batch.add(entry_id, fields)
        return batch

    def handle(self, batch: Batch) -> list[str]:
        """Dead-letter the rejects and commit the rest; returns the entry ids to ack."""
        for rejected in batch.rejected:
            self._dead_letter(batch.partition, rejected.entry_id, rejected.fields, rejected.reason)
        if not batch.messages:
            return []
        stream = batch.partition.stream_key
        with BATCH_SECONDS.time(), tracing.process(stream, batch.messages) as traced:
            return traced.acks(self._store(batch))

    def ack(self, partition: Partition, entry_ids: list[str]) -> None:
        if entry_ids:
            with tracing.settle(partition.stream_key, entry_ids):
                self.retry("redis", lambda: self.queue.ack(entry_ids, partition))
        END_TO_END.flush_window(self.queue.client, self.settings)

    def _store(self, batch: Batch) -> list[str]:
        """Commit the batch; returns the entry ids now safe to ack."""
        messages = batch.messages
        try:
            inserted = self.retry("database", lambda: self._commit(messages, batch.redelivered))
        except Stopping:
            raise
        except Exception as exc:
            # Not an outage (Retry waits those out): some row cannot be stored,
            # whatever the error (DataError, or the driver's OverflowError on a
            # value it cannot bind). Find it row by row; never lose the batch.
            batch_ids = {
                "batch_size": len(messages),
                "first_entry_id": messages[0].entry_id,
                "last_entry_id": messages[-1].entry_id,
            }
            log.warning(
                "batch refused by the database (%s); storing row by row", exc, extra=batch_ids
            )
            self._store_one_by_one(batch.partition, messages)
            return []
        STORED.inc(inserted)
        DUPLICATES.inc(len(messages) - inserted)
        return [m.entry_id for m in messages]

    def _store_one_by_one(self, partition: Partition, batch: list[Message]) -> None:
        """Store and ack each message alone; dead-letter the ones the database refuses."""
        for message in batch:
            try:
                inserted = self.retry("database", partial(self._commit, [message]))
            except Stopping:
                raise
            except Exception as exc:
                cause = getattr(exc, "orig", None) or exc  # the driver's error, if any
                reason = f"database refused it: {type(cause).__name__}: {cause}"
                self._dead_letter(partition, message.entry_id, message.fields(), reason)
                continue
            STORED.inc(inserted)
            self.ack(partition, [message.entry_id])

    def _commit(self, batch: list[Message], redelivered: bool = False) -> int:
        rows = tracing.commit(self.engine.dialect.name, "messages", len(batch))
        with rows, self.engine.begin() as conn:
            seen = already_stored(conn, batch) if redelivered and len(batch) > 1 else set()
            inserted = repo.store_batch(conn, batch, self.shard)
        END_TO_END.observe(just_stored(batch, inserted, seen))
        return inserted

    def _dead_letter(
        self, partition: Partition, entry_id: str, fields: dict[str, str] | None, reason: str
    ) -> None:
        self.retry("redis", lambda: self.queue.dead_letter(entry_id, fields, reason, partition))
        DEAD.inc()
