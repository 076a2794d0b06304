"""The message: what the producer writes and how the consumer reads it back."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest

from countq.messages import INT64_MAX, INT64_MIN, Message, new_message, parse_entry, uuid7


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(1000)]
    assert {i.version for i in ids} == {7}
    assert len(set(ids)) == 1000
    # The first 48 bits are milliseconds: never decreasing.
    stamps = [i.int >> 80 for i in ids]
    assert stamps == sorted(stamps)


def test_a_new_message_reads_back_as_itself() -> None:
    message_id, count, enqueued_ms = new_message(INT64_MIN)
    fields = {"id": message_id, "count": str(count), "ts": str(enqueued_ms)}
    assert parse_entry("1-0", fields) == Message(
        "1-0", uuid.UUID(message_id).bytes, INT64_MIN, enqueued_ms
    )


def test_the_enqueue_time_may_be_anything_a_bigint_holds_from_0() -> None:
    for ts in (0, INT64_MAX):
        fields = {"id": str(uuid7()), "count": "1", "ts": str(ts)}
        assert parse_entry("1-0", fields).enqueued_ms == ts


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (None, "no fields"),
        ({}, "no fields"),
        ({"count": "1", "ts": "0"}, "missing field 'id'"),
        ({"id": str(uuid7()), "ts": "0"}, "missing field 'count'"),
        ({"id": str(uuid7()), "count": "seven", "ts": "0"}, "invalid literal"),
        ({"id": "not-a-uuid", "count": "1", "ts": "0"}, "hexadecimal UUID"),
        ({"id": str(uuid7()), "count": str(INT64_MAX + 1), "ts": "0"}, "BIGINT"),
        ({"id": str(uuid7()), "count": "1", "ts": str(INT64_MAX + 1)}, r"ts \d+ outside 0\.\."),
        ({"id": str(uuid7()), "count": "1", "ts": "-5"}, r"ts -5 outside 0\.\."),
        ({"id": str(uuid7()), "count": "1", "ts": "x"}, "invalid literal"),
    ],
)
def test_poison_entries_are_value_errors(fields: dict[str, str] | None, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_entry("1-0", fields)


CANONICAL = str(uuid7())


@pytest.mark.parametrize(
    "text",
    [
        CANONICAL,
        CANONICAL.upper(),
        "{" + CANONICAL + "}",
        "urn:uuid:" + CANONICAL,
        CANONICAL.replace("-", ""),
        CANONICAL[:-1] + " ",  # 36 characters, but fromhex would skip the space
        CANONICAL[:-1] + "g",
        CANONICAL[:8] + "x" + CANONICAL[9:],
        "",
    ],
)
def test_an_id_reads_as_uuid_reads_it(text: str) -> None:
    """The consumer's fast path for the canonical form accepts and refuses
    exactly what uuid.UUID does, with the same bytes."""
    try:
        expected: bytes | str = uuid.UUID(text).bytes
    except ValueError as exc:
        expected = str(exc)
    fields = {"id": text, "count": "1", "ts": "0"}
    try:
        got: bytes | str = parse_entry("1-0", fields).message_id
    except ValueError as exc:
        got = str(exc)
    assert got == expected


def test_ids_sort_in_the_order_they_were_made() -> None:
    """Within a millisecond too: GET /count's "last" breaks a tie of enqueue
    times by id (countq.db.repo)."""
    ids = []
    for _ in range(300):
        ids.append(uuid7())
        time.sleep(0.00005)  # requests are further apart than this
    same_ms = sum(a.int >> 80 == b.int >> 80 for a, b in itertools.pairwise(ids))
    assert same_ms > 100, "the test must make many ids within one millisecond"
    assert ids == sorted(ids)
    assert {i.version for i in ids} == {7} and {i.variant for i in ids} == {"specified in RFC 4122"}
