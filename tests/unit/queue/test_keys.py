"""countq.queue.keys: each Lua script's header states the KEYS and ARGV that
keys.py declares for it, and each call helper builds them in that order."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files
from typing import Any

import pytest

from countq.queue import keys

LUA = files("countq.queue") / "lua"
Q = "q"
KEY_OF: dict[str, Callable[[str], str]] = {"stream": keys.stream_key, "dead": keys.dead_key}


def names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def lua(script: str) -> str:
    return (LUA / f"{script}.lua").read_text(encoding="utf-8")


def header(script: str) -> keys.Script:
    """The script's `-- KEYS:`, `-- ARGV: a, b; per item: c, d` and `-- REFUSES:`
    lines, as a Script."""
    text = lua(script)
    found_keys = re.search(r"^-- KEYS: (.*)$", text, re.MULTILINE)
    found_argv = re.search(r"^-- ARGV: ([^;\n]*)(?:; per (\w+): (.*))?$", text, re.MULTILINE)
    assert found_keys and found_argv, f"{script}.lua states no KEYS or ARGV line"
    found_refusals = re.search(r"^-- REFUSES: (.*)$", text, re.MULTILINE)
    per, each = found_argv.group(2) or "", found_argv.group(3) or ""
    refuses = names(found_refusals[1]) if found_refusals else ()
    return keys.Script(
        script, names(found_keys[1]), names(found_argv[1]), per, names(each), refuses
    )


def test_every_script_is_declared_once() -> None:
    on_disk = sorted(p.name.removesuffix(".lua") for p in LUA.iterdir() if p.name.endswith(".lua"))
    assert sorted(s.name for s in keys.SCRIPTS) == on_disk


@pytest.mark.parametrize("script", keys.SCRIPTS, ids=lambda s: s.name)
def test_the_header_states_the_declared_order(script: keys.Script) -> None:
    assert header(script.name) == script


@pytest.mark.parametrize("script", keys.SCRIPTS, ids=lambda s: s.name)
def test_a_script_refuses_only_with_the_codes_its_header_states(script: keys.Script) -> None:
    """The refusal protocol: an error reply whose first word is a keys.py code."""
    code = r"redis\.error_reply\('(\w+)"
    assert set(re.findall(code, lua(script.name))) == set(script.refuses)
    assert set(script.refuses) <= set(keys.REFUSALS)


def test_no_refusal_code_is_one_redis_py_raises_a_class_of_its_own_for() -> None:
    """Else the reply would arrive as that class (NOSCRIPT: NoScriptError, ...)."""
    from redis._parsers.base import BaseParser

    assert not set(keys.REFUSALS) & set(BaseParser.EXCEPTION_CLASSES)


def expected(
    script: keys.Script, given: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> keys.Call:
    """KEYS and ARGV as the declaration orders them: a `<field>_field` argument is
    that field's name, `group` the group, any other the value given for it."""

    def value(name: str) -> Any:
        if name in given:
            return given[name]
        if name == "group":
            return keys.GROUP
        field = name.removesuffix("_field")
        assert field in keys.MESSAGE_FIELDS + keys.DEAD_LETTER_FIELDS, name
        return field

    argv = [value(name) for name in script.argv]
    argv += [item[name] for item in items for name in script.each]
    return [KEY_OF[key](Q) for key in script.keys], argv


def message(n: int) -> dict[str, str]:
    return {field: f"{field}-{n}" for field in keys.MESSAGE_FIELDS}


def test_enqueue_call() -> None:
    messages = [message(1), message(2)]
    call = keys.enqueue_call(Q, "<bound>", [tuple(m.values()) for m in messages])  # type: ignore[arg-type]
    assert call == expected(keys.ENQUEUE, {"bound": "<bound>"}, messages)


def test_ack_call() -> None:
    call = keys.ack_call(Q, ["1-0", "2-0"])
    assert call == expected(keys.ACK, {}, [{"entry_id": "1-0"}, {"entry_id": "2-0"}])


def test_dead_letter_call() -> None:
    fields = {keys.ID: "i", keys.COUNT: "c"}
    call = keys.dead_letter_call(Q, "7-0", fields, "poison")
    record = [*fields.items(), (keys.SOURCE_ENTRY, "7-0"), (keys.REASON, "poison")]
    pairs = [{"name": name, "value": value} for name, value in record]
    assert call == expected(keys.DEAD_LETTER, {"entry_id": "7-0"}, pairs)


def test_replay_call() -> None:
    call = keys.replay_call(Q, "9-0", 100)
    assert call == expected(keys.REPLAY, {"dead_entry_id": "9-0", "bound": 100}, [])


def test_every_key_carries_the_queue_hash_tag() -> None:
    for key in (keys.stream_key(Q), keys.dead_key(Q), keys.latency_key(Q, 1)):
        assert key.startswith("{q}:")


def test_partition_0_is_the_queue_itself() -> None:
    assert keys.partition_tag("countq", 0, 1) == "countq"
    assert keys.partition_tag("countq", 0, 5) == "countq"


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_partitions_fall_in_evenly_spread_slots(n: int) -> None:
    """Partition i of N sits exactly i * 16384 / N slots after the queue's own."""
    base = keys.slot_of("countq")
    slots = [keys.slot_of(keys.partition_tag("countq", i, n)) for i in range(n)]
    assert slots == [(base + i * 16384 // n) % 16384 for i in range(n)]
    assert len(set(slots)) == n


def test_three_partitions_land_on_three_primaries_of_equal_ranges() -> None:
    """`redis-cli --cluster create` with 3 primaries gives them 0-5460,
    5461-10922, 10923-16383: three partitions, one on each."""
    ranges = [(0, 5460), (5461, 10922), (10923, 16383)]
    for queue in ("countq", "orders", "t-123456789abc"):
        owners = {
            next(k for k, (lo, hi) in enumerate(ranges) if lo <= keys.slot_of(tag) <= hi)
            for tag in (keys.partition_tag(queue, i, 3) for i in range(3))
        }
        assert owners == {0, 1, 2}, queue


def test_a_slot_shared_by_two_partition_counts_is_one_stream() -> None:
    """1 of 2 and 2 of 4 are the same slot, so the same tag: going from 4
    partitions to 2 keeps that stream in use."""
    assert keys.partition_tag("countq", 1, 2) == keys.partition_tag("countq", 2, 4)


def test_partition_index_out_of_range() -> None:
    with pytest.raises(ValueError, match="partition 3 of 3"):
        keys.partition_tag("countq", 3, 3)


def test_partition_keys_carry_the_partition_tag() -> None:
    tag = keys.partition_tag("countq", 1, 3)
    assert keys.stream_key(tag) == f"{{{tag}}}:stream"
    assert keys.ack_call(tag, ["1-0"])[0] == [f"{{{tag}}}:stream"]
    assert keys.registry_key("countq") == "{countq}:partitions"


@pytest.mark.parametrize("tag", ["countq", "countq.p1", "q", "a-much-longer-queue-name.p63", "ü"])
def test_slot_of_is_redis_pys_key_slot(tag: str) -> None:
    """keys.py computes the slot itself (the importer zip has no redis-py)."""
    from redis.crc import key_slot

    assert keys.slot_of(tag) == key_slot(f"{{{tag}}}".encode())
