"""Ids made one after another sort in that order, within a millisecond too:
GET /count's "last" breaks a tie of enqueue times by id (countq.db.repo)."""

from __future__ import annotations

import itertools
import time

from countq.messages import uuid7


def test_ids_sort_in_the_order_they_were_made() -> None:
    ids = []
    for _ in range(300):
        ids.append(uuid7())
        time.sleep(0.00005)  # requests are further apart than this
    same_ms = sum(a.int >> 80 == b.int >> 80 for a, b in itertools.pairwise(ids))
    assert same_ms > 100, "the test must make many ids within one millisecond"
    assert ids == sorted(ids)
    assert {i.version for i in ids} == {7} and {i.variant for i in ids} == {"specified in RFC 4122"}
