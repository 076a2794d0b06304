"""partition messages by enqueue day, add stored_total

On MySQL, `messages` becomes RANGE-partitioned by `enqueued_ms`, one partition
per UTC day, so RETENTION_DAYS removes a day with DROP PARTITION instead of a
DELETE (countq.db.retention). MySQL wants every unique key to hold the
partitioning column, so the keys become (seq, enqueued_ms) and
(message_id, enqueued_ms): the enqueue time is set once by the producer and
travels with the message (redelivery, dead-letter replay), so a redelivered
message has the same pair and is still refused, in the same partition.

On MySQL this rebuilds the table (one copy): on a large table run it in a
quiet hour. SQLite keeps its table, plus an index on enqueued_ms for the
batched deletes.

`message_stats` gains `stored_total` (every message ever stored; `row_count`
stays "rows held now") and two columns that journal a partition drop, so a
crash between the DROP and the summary update is mended by the next run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 23:30:38.489711
"""

import time
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DAY_MS = 86_400_000
# Days created ahead by this migration; the maintenance step keeps it so.
AHEAD_DAYS = 7


def _partitions(now_ms: int) -> str:
    """Everything so far in `pbefore`, then today and the days ahead, then `pfuture`
    (a value past the last day must not fail the consumer's insert)."""
    today = now_ms - now_ms % DAY_MS
    parts = [f"PARTITION pbefore VALUES LESS THAN ({today})"]
    for i in range(AHEAD_DAYS + 1):
        day = today + i * DAY_MS
        name = datetime.fromtimestamp(day / 1000, tz=UTC).strftime("p%Y%m%d")
        parts.append(f"PARTITION {name} VALUES LESS THAN ({day + DAY_MS})")
    parts.append("PARTITION pfuture VALUES LESS THAN MAXVALUE")
    return ",\n  ".join(parts)


def upgrade() -> None:
    op.add_column(
        "message_stats",
        sa.Column("stored_total", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column("message_stats", sa.Column("drop_partition", sa.String(64), nullable=True))
    op.add_column("message_stats", sa.Column("drop_rows", sa.BigInteger(), nullable=True))
    op.execute("UPDATE message_stats SET stored_total = row_count")
    if op.get_bind().dialect.name != "mysql":
        op.create_index("ix_messages_enqueued_ms", "messages", ["enqueued_ms"])
        return
    # One statement, one table copy: the new keys and the partitioning together.
    op.execute(
        "ALTER TABLE messages"
        " DROP PRIMARY KEY, ADD PRIMARY KEY (seq, enqueued_ms),"
        " DROP INDEX uq_messages_message_id,"
        " ADD UNIQUE KEY uq_messages_message_id (message_id, enqueued_ms)"
        f"\nPARTITION BY RANGE (enqueued_ms) (\n  {_partitions(time.time_ns() // 1_000_000)}\n)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        op.execute("ALTER TABLE messages REMOVE PARTITIONING")
        op.execute(
            "ALTER TABLE messages"
            " DROP PRIMARY KEY, ADD PRIMARY KEY (seq),"
            " DROP INDEX uq_messages_message_id,"
            " ADD UNIQUE KEY uq_messages_message_id (message_id)"
        )
    else:
        op.drop_index("ix_messages_enqueued_ms", "messages")
    op.drop_column("message_stats", "drop_rows")
    op.drop_column("message_stats", "drop_partition")
    op.drop_column("message_stats", "stored_total")
