"""summary: SUMMARY_SHARDS rows, each consumer adding to one

`message_stats` becomes the summary's shards: row `id` k is shard k, each
consumer adds to one of them, and GET /count reads their sum (and "last",
the newest by (last_enqueued_ms, last_id) across them). Rows 2..S are made by
the consumers when they first write to them.

The upgrade moves nothing: the one row of 0003 (id 1) is shard 1 as it
stands, with its count and "last". That is what makes it gap-free. A consumer
still running 0003's code during the upgrade goes on adding to row 1, which
the new sum includes, so no count is lost however the old and new processes
interleave, and no lock or pause is needed. (Copying row 1 into a new table
would lose what an old consumer added after the copy.) While the producers are
still 0003's, their GET /count shows row 1 alone: it lags until they are
replaced, and loses nothing.

The downgrade folds the shards back into row 1 (counts added, "last" the
newest) and deletes the others, since 0003's code reads row 1 only. Stop
consumers of this version first: one still running would make its row again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 18:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Row 1 is shard 1 already (see above); nothing to change."""


def downgrade() -> None:
    bind = op.get_bind()
    stats = sa.table(
        "message_stats",
        *(
            sa.column(name)
            for name in (
                "id",
                "row_count",
                "stored_total",
                "last_value",
                "last_id",
                "last_enqueued_ms",
                "updated_ms",
            )
        ),
    )
    # Every row locked (MySQL; SQLite has one writer anyway), in the consumers' order.
    rows = bind.execute(sa.select(stats).order_by(stats.c.id).with_for_update()).all()
    if len(rows) < 2:
        return
    newest = max(
        rows, key=lambda r: (r.last_enqueued_ms is not None, r.last_enqueued_ms, r.last_id)
    )
    bind.execute(
        sa.text(
            "UPDATE message_stats SET row_count = :row_count, stored_total = :stored_total,"
            " last_value = :last_value, last_id = :last_id, last_enqueued_ms = :last_enqueued_ms,"
            " updated_ms = :updated_ms WHERE id = 1"
        ),
        {
            "row_count": sum(r.row_count for r in rows),
            "stored_total": sum(r.stored_total for r in rows),
            "last_value": newest.last_value,
            "last_id": newest.last_id,
            "last_enqueued_ms": newest.last_enqueued_ms,
            "updated_ms": max(
                (r.updated_ms for r in rows if r.updated_ms is not None), default=None
            ),
        },
    )
    bind.execute(sa.text("DELETE FROM message_stats WHERE id <> 1"))
