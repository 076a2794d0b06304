"""summary: "last" is the newest message by enqueue time

`message_stats` gains `last_enqueued_ms`, the enqueue time of the message
behind `last_value`/`last_id`. The consumer moves "last" only to a message
that is newer by (enqueued_ms, message_id), so an older message reclaimed
from a dead consumer and stored after newer ones no longer moves it back.

The summary is set again from the newest stored message, which also mends a
`last_value` an earlier version had moved back. MySQL has no index that
serves that ORDER BY, so it scans `messages` once: on a large table, run it
in a quiet hour.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 15:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("message_stats", sa.Column("last_enqueued_ms", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    newest = bind.execute(
        sa.text(
            "SELECT count, message_id, enqueued_ms FROM messages"
            " ORDER BY enqueued_ms DESC, message_id DESC LIMIT 1"
        )
    ).one_or_none()
    if newest is not None:
        bind.execute(
            sa.text(
                "UPDATE message_stats SET last_value = :count, last_id = :message_id,"
                " last_enqueued_ms = :enqueued_ms"
            ),
            dict(newest._mapping),
        )


def downgrade() -> None:
    op.drop_column("message_stats", "last_enqueued_ms")
