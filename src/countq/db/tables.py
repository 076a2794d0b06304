"""The tables as the migrations create them; the migrations stay the source of truth.

`messages` holds one row per message, unique on the producer-made id, so a
redelivered message is stored once. `message_stats` is a one-row summary kept
in the same transaction as the insert: GET /count reads it by primary key, in
time that does not grow with the table.
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
    sa.Column("message_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("enqueued_ms", sa.BigInteger, nullable=False),
    sa.Column("stored_ms", sa.BigInteger, nullable=False),
)

message_stats = sa.Table(
    "message_stats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("last_value", sa.BigInteger, nullable=True),
    sa.Column("last_id", sa.LargeBinary(16), nullable=True),
    sa.Column("updated_ms", sa.BigInteger, nullable=True),
)

# The summary's one row (the first migration inserts it).
STATS_ROW_ID = 1
