"""countq.queue.partitions: which partitions a process knows, where a message goes,
each partition's share of MAX_BACKLOG."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from countq.config import Settings
from countq.messages import uuid7
from countq.queue.partitions import (
    Partition,
    bound_per_partition,
    configured,
    in_partition,
    index_of,
    known,
)


def test_one_partition_is_the_single_stream_of_old() -> None:
    (only,) = configured(Settings(redis_queue="countq"))
    assert (only.stream_key, only.dead_key) == ("{countq}:stream", "{countq}:dead")


def test_partitions_of_any_count_keep_the_first_stream() -> None:
    for n in (2, 3, 4, 16):
        assert configured(Settings(queue_partitions=n))[0] == Partition("countq")


def test_known_partitions_are_the_configured_then_the_registered_in_order() -> None:
    s = Settings(redis_queue="q", queue_partitions=2)
    mine = configured(s)
    extra = {"q.p9", "q.p3", mine[1].tag}
    assert known(s, extra) == [*mine, Partition("q.p3"), Partition("q.p9")]


def test_a_message_id_always_names_the_same_partition() -> None:
    message_id = str(uuid7())
    assert {index_of(message_id, 4) for _ in range(10)} == {index_of(message_id, 4)}


def test_ids_spread_evenly() -> None:
    spread = Counter(index_of(str(uuid7()), 3) for _ in range(30_000))
    assert sorted(spread) == [0, 1, 2]
    assert all(9_400 < c < 10_600 for c in spread.values()), spread


@pytest.mark.parametrize("n", [2, 3, 4, 7, 64])
def test_an_id_moved_into_a_partition_lands_there_and_stays_a_uuid7(n: int) -> None:
    for index in range(n):
        for _ in range(200):
            original = str(uuid7())
            moved = in_partition(original, index, n)
            assert index_of(moved, n) == index
            assert uuid.UUID(moved).version == 7
            assert moved[:-8] == original[:-8]  # the time and the order kept


def test_the_top_of_the_tail_wraps_into_range() -> None:
    top = "0190f5c2-7d3a-7abc-8def-1234ffffffff"
    moved = in_partition(top, 0, 3)
    assert index_of(moved, 3) == 0
    assert int(moved[-8:], 16) <= 0xFFFFFFFF


@pytest.mark.parametrize(
    ("bound", "n", "share"), [(1_000_000, 1, 1_000_000), (10, 4, 3), (8, 4, 2), (1, 3, 1)]
)
def test_each_partition_holds_its_share_of_the_backlog_rounded_up(
    bound: int, n: int, share: int
) -> None:
    assert bound_per_partition(Settings(max_backlog=bound, queue_partitions=n)) == share
