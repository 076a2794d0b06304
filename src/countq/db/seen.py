"""Which messages of a redelivered batch are stored already (for the end-to-end figure).

A reclaimed batch may hold messages a dead consumer committed but never acked;
the insert skips them, but reports only how many it skipped. Asked in the
insert's own transaction, before it, this says which, so each stored message
is timed exactly once. Only reclaimed batches ask: a fresh one costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from countq.db.tables import messages
from countq.messages import Message


def already_stored(conn: Connection, batch: Sequence[Message]) -> set[tuple[bytes, int]]:
    """The (message id, enqueue ms) pairs of `batch` that are rows already (the unique key)."""
    if not batch:
        return set()
    key = sa.tuple_(messages.c.message_id, messages.c.enqueued_ms)
    query = sa.select(messages.c.message_id, messages.c.enqueued_ms).where(
        key.in_([(m.message_id, m.enqueued_ms) for m in batch])
    )
    return {(bytes(row[0]), int(row[1])) for row in conn.execute(query)}
