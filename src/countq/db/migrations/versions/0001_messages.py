"""messages table and the one-row summary that GET /count reads

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-increments an INTEGER PRIMARY KEY.
big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("seq", big_id, primary_key=True, autoincrement=True),
        # UUIDv7 as 16 bytes: a small, time-ordered unique key.
        sa.Column(
            "message_id", sa.LargeBinary(16).with_variant(sa.BINARY(16), "mysql"), nullable=False
        ),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("enqueued_ms", sa.BigInteger(), nullable=False),
        sa.Column("stored_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_messages_message_id"),
        mysql_engine="InnoDB",
    )
    op.create_table(
        "message_stats",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=True),
        sa.Column(
            "last_id", sa.LargeBinary(16).with_variant(sa.BINARY(16), "mysql"), nullable=True
        ),
        sa.Column("updated_ms", sa.BigInteger(), nullable=True),
        mysql_engine="InnoDB",
    )
    op.execute("INSERT INTO message_stats (id, row_count) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("message_stats")
    op.drop_table("messages")
