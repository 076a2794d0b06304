"""countq.db.repo's pure parts: the MySQL insert's text, and which message is the newest."""

from __future__ import annotations

from countq.db.repo import _age, _mysql_insert_sql
from countq.messages import Message

A = Message("1-0", bytes.fromhex("0190f6a1" + "00" * 12), 7, 1_764_283_170_123)
B = Message("1-1", b"\xff" * 16, -(2**63), 1_764_283_170_124)


def test_one_insert_ignore_with_every_row_as_literals() -> None:
    assert _mysql_insert_sql([A, B], now_ms=1_764_283_171_000) == (
        "INSERT IGNORE INTO messages (message_id, count, enqueued_ms, stored_ms) VALUES "
        "(X'0190f6a1000000000000000000000000',7,1764283170123,1764283171000),"
        "(X'ffffffffffffffffffffffffffffffff',-9223372036854775808,1764283170124,1764283171000)"
    )


def test_newest_is_by_enqueue_time_then_id() -> None:
    later_id = Message("2-0", b"\x02" * 16, 1, A.enqueued_ms)
    assert max([B, A], key=_age) is B  # the later enqueue time, whatever its id
    assert max([later_id, A], key=_age) is later_id  # the same ms: the larger id
