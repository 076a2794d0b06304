"""A Redis outage is two log lines, whatever the number of refused requests."""

from __future__ import annotations

import logging

import pytest

from countq.queue.outage import Outage


def test_one_line_when_it_starts_one_with_the_counts_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage()
    with caplog.at_level(logging.WARNING, logger="countq.queue.outage"):
        outage.answered()  # no outage: nothing to say
        for _ in range(500):
            outage.failed(ConnectionError("Connection refused"), refused=3)
        outage.refused_fast(100)
        assert outage.ongoing
        outage.answered()
        outage.answered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0] == (
        "Redis unavailable (ConnectionError: Connection refused); answering 503 until it is back"
    )
    assert lines[1].startswith("Redis answers again after ")
    assert lines[1].endswith(": 1600 requests refused, 500 calls failed")
    assert not outage.ongoing
