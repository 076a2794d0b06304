"""The tables as the migrations create them; the migrations stay the source of truth.

`messages` holds one row per message, unique on the producer-made id and its
enqueue time (both travel with the message and never change), so a
redelivered message is stored once; on MySQL it is partitioned by enqueue day
(migration 0002, countq.db.retention). `message_stats` is the summary kept in
the same transaction as the insert, in SUMMARY_SHARDS rows (0004): each
consumer adds to one of them, and GET /count sums them, in time that does
not grow with the table. Only the sum of `row_count` (and of `stored_total`)
means anything: retention takes dropped rows off row 1 alone, which may take
that row below zero.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

messages = sa.Table(
    "messages",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("message_id", sa.LargeBinary(16), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("enqueued_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("stored_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("message_id", "enqueued_ms", name="uq_messages_message_id"),
)

message_stats = sa.Table(
    "message_stats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("last_value", sa.BigInteger, nullable=True),
    sa.Column("last_id", sa.LargeBinary(16), nullable=True),
    # The enqueue time of last_value's message: "last" is the newest by
    # (last_enqueued_ms, last_id), so a redelivery never moves it back (0003).
    sa.Column("last_enqueued_ms", sa.BigInteger, nullable=True),
    sa.Column("updated_ms", sa.BigInteger, nullable=True),
    # Every message ever stored; row_count is the rows held now (RETENTION_DAYS).
    sa.Column("stored_total", sa.BigInteger, nullable=False),
    # A partition drop in progress (countq.db.retention mends an interrupted one).
    sa.Column("drop_partition", sa.String(64), nullable=True),
    sa.Column("drop_rows", sa.BigInteger, nullable=True),
)

# The summary's first row (the first migration inserts it): shard 1, where a
# consumer of before 0004 still writes, and the home of the retention journal.
# Shards 2..SUMMARY_SHARDS are made when a consumer first writes to them.
STATS_ROW_ID = 1
