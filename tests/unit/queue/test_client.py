"""countq.queue.client.stats_from: the queue's figures from one pipeline's replies."""

from __future__ import annotations

from typing import Any

import pytest

from countq.config import Settings
from countq.queue import client
from countq.queue.client import stats_from
from countq.queue.partitions import Partition

SETTINGS = Settings(redis_queue="q")
ONE = [Partition("q")]


def replies(
    length: int, pending: int, oldest_ms: int | None, groups: list[dict[str, object]]
) -> list[Any]:
    """XLEN stream, XPENDING summary, XLEN dead, XRANGE COUNT 1, XINFO GROUPS."""
    oldest = [(f"{oldest_ms}-0", {"id": "x"})] if oldest_ms is not None else []
    return [length, {"pending": pending}, 3, oldest, groups]


def test_the_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.time, "time", lambda: 1_000.0)
    groups = [{"name": SETTINGS.group, "consumers": 2}, {"name": "someone-else", "consumers": 7}]
    figures = stats_from(replies(10, 4, 997_500, groups), SETTINGS, ONE)
    one = {
        "backlog": 6,  # queued and not yet delivered: the stream less what is pending
        "pending": 4,
        "dead_letters": 3,
        "oldest_age_seconds": 2.5,  # from the oldest entry id's milliseconds
        "consumers": 2,  # this queue's group only
    }
    assert figures == {**one, "partitions": [{"stream": "{q}:stream", **one}]}


def test_partitions_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts are sums; the oldest age and the consumers (each consumer joins every
    partition's group) are the largest of any partition."""
    monkeypatch.setattr(client.time, "time", lambda: 1_000.0)
    group = [{"name": SETTINGS.group, "consumers": 2}]
    late = [{"name": SETTINGS.group, "consumers": 1}]
    two = [Partition("q"), Partition("q.p7")]
    figures = stats_from(
        [*replies(10, 4, 999_000, group), *replies(5, 0, 990_000, late)], SETTINGS, two
    )
    assert {k: v for k, v in figures.items() if k != "partitions"} == {
        "backlog": 6 + 5,
        "pending": 4,
        "dead_letters": 3 + 3,
        "oldest_age_seconds": 10.0,
        "consumers": 2,
    }
    assert [p["stream"] for p in figures["partitions"]] == ["{q}:stream", "{q.p7}:stream"]
    assert [p["backlog"] for p in figures["partitions"]] == [6, 5]


def test_an_empty_stream_has_no_age_and_a_backlog_never_below_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client.time, "time", lambda: 1_000.0)
    figures = stats_from(replies(0, 2, None, []), SETTINGS, ONE)
    assert figures["oldest_age_seconds"] == 0.0
    assert figures["backlog"] == 0
    assert figures["consumers"] == 0


def test_an_entry_from_a_clock_ahead_is_not_a_negative_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client.time, "time", lambda: 1_000.0)
    assert stats_from(replies(1, 0, 1_000_900, []), SETTINGS, ONE)["oldest_age_seconds"] == 0.0
