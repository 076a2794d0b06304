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


def header(script: str) -> keys.Script:
    """The script's `-- KEYS:` and `-- ARGV: a, b; per item: c, d` lines, as a Script."""
    text = (LUA / f"{script}.lua").read_text(encoding="utf-8")
    found_keys = re.search(r"^-- KEYS: (.*)$", text, re.MULTILINE)
    found_argv = re.search(r"^-- ARGV: ([^;\n]*)(?:; per (\w+): (.*))?$", text, re.MULTILINE)
    assert found_keys and found_argv, f"{script}.lua states no KEYS or ARGV line"
    per, each = found_argv.group(2) or "", found_argv.group(3) or ""
    return keys.Script(script, names(found_keys[1]), names(found_argv[1]), per, names(each))


def test_every_script_is_declared_once() -> None:
    on_disk = sorted(p.name.removesuffix(".lua") for p in LUA.iterdir() if p.name.endswith(".lua"))
    assert sorted(s.name for s in keys.SCRIPTS) == on_disk


@pytest.mark.parametrize("script", keys.SCRIPTS, ids=lambda s: s.name)
def test_the_header_states_the_declared_order(script: keys.Script) -> None:
    assert header(script.name) == script


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
