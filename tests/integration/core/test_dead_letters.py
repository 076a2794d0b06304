"""`countq dead-letters`: on the real Redis (and MariaDB for replay -> stored once)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import redis

from countq.config import Settings
from countq.db import repo
from countq.db.engine import create_engine
from countq.messages import parse_entry, uuid7
from countq.worker.loop import Consumer
from tests.helpers.database import db_rows
from tests.helpers.processes import settings_env
from tests.helpers.services import REDIS_URL, ROOT


def countq(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "countq", "dead-letters", *args],
        env=settings_env(settings),
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def drain(consumer: Consumer) -> None:
    while consumer.run_once():
        pass


def message(count: int, ts: int = 0) -> dict[str, str]:
    return {"id": str(uuid7()), "count": str(count), "ts": str(ts)}


def test_a_poison_message_is_listed_shown_and_purged(settings: Settings) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    r.xadd(settings.stream_key, message(1))
    r.xadd(settings.stream_key, {"id": str(uuid7()), "count": "seven", "ts": "5"})
    drain(Consumer(settings, name="poison"))
    assert db_rows(settings) == (1, 1, 1)

    listed = countq(settings, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["reason"].startswith("invalid message: invalid literal")
    assert entry["message"]["count"] == "seven"
    assert 0 <= entry["dead_for_seconds"] < 30
    text = countq(settings, "list")
    assert text.returncode == 0
    assert "1 dead letter(s)" in text.stdout
    assert entry["id"] in text.stdout
    assert "count=seven" in text.stdout

    shown = countq(settings, "show", entry["id"])
    assert shown.returncode == 0, shown.stderr
    assert f"id:           {entry['id']}" in shown.stdout
    assert "message count: seven" in shown.stdout
    assert f"source entry: {entry['source_entry']}" in shown.stdout

    # Without --yes it asks; anything but yes keeps the entry.
    refused = countq(settings, "purge", entry["id"], stdin="n\n")
    assert refused.returncode == 1
    assert "? [y/N]" in refused.stderr
    assert "nothing purged" in refused.stderr
    assert r.xlen(settings.dead_key) == 1
    confirmed = countq(settings, "purge", entry["id"], stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "purged 1" in confirmed.stdout
    assert r.xlen(settings.dead_key) == 0
    missing = countq(settings, "show", entry["id"])
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"countq dead-letters: no dead letter {entry['id']} in {settings.dead_key}"
    )


def test_purge_older_than_keeps_the_newer_ones(settings: Settings) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    now_ms = time.time_ns() // 1_000_000
    old = r.xadd(
        settings.dead_key, {"reason": "old", **message(1)}, id=f"{now_ms - 8 * 86400_000}-0"
    )
    new = r.xadd(settings.dead_key, {"reason": "new", **message(2)})
    result = countq(settings, "purge", "--older-than", "7d", "--yes")
    assert result.returncode == 0, result.stderr
    assert "purged 1" in result.stdout
    assert [eid for eid, _ in r.xrange(settings.dead_key)] == [new]
    assert old != new


def test_a_message_dead_lettered_for_deliveries_is_replayed_and_stored_once(
    settings: Settings,
) -> None:
    """Two messages die after too many deliveries: one whose commit did happen
    (its acks were lost), one never stored (the database kept failing). Once
    the fault is fixed, replaying both stores each exactly once."""
    s = settings.model_copy(update={"max_deliveries": 2, "claim_idle_ms": 1})
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    stored_already, never_stored = message(10, ts=1_000), message(20, ts=2_000)
    ids = [r.xadd(s.stream_key, fields) for fields in (stored_already, never_stored)]
    first = Consumer(s, name="c1")
    first.queue.ensure_group()
    first.queue.read_new(block_ms=10)  # delivery 1, then a crash
    engine = create_engine(s)
    with engine.begin() as conn:  # the first one's commit went through, its ack did not
        repo.store_batch(conn, [parse_entry(ids[0], stored_already)])
    engine.dispose()
    time.sleep(0.01)
    Consumer(s, name="c2").queue.claim_stale()  # delivery 2, a crash again
    time.sleep(0.01)
    assert Consumer(s, name="c3").run_once() == 2  # delivery 3 > 2: both dead-lettered
    assert r.xlen(s.dead_key) == 2
    assert db_rows(s) == (1, 1, 1)

    # Full queue: replay refuses and moves nothing.
    r.xadd(s.stream_key, message(99))  # the backlog now holds one entry
    full = countq(s.model_copy(update={"max_backlog": 1}), "replay", "--all")
    assert full.returncode == 1
    assert "refused at MAX_BACKLOG" in full.stderr
    assert r.xlen(s.dead_key) == 2
    drain(Consumer(s, name="c4"))  # the consumers catch up
    assert db_rows(s) == (2, 2, 2)

    replayed = countq(s, "replay", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 2 of 2" in replayed.stdout
    assert r.xlen(s.dead_key) == 0
    back = {f["id"]: f for _, f in r.xrange(s.stream_key)}
    assert back == {f["id"]: f for f in (stored_already, never_stored)}  # own id and ts
    drain(Consumer(s, name="c5"))
    assert db_rows(s) == (3, 3, 3)  # 99, 10 once, 20 once
    assert r.xlen(s.stream_key) == 0


def test_replay_by_id_reports_the_ones_not_there(settings: Settings) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    dead = r.xadd(settings.dead_key, {**message(5), "source_entry": "1-0", "reason": "test"})
    empty = r.xadd(settings.dead_key, {"source_entry": "2-0", "reason": "entry was deleted"})
    result = countq(settings, "replay", dead, empty, "1-1")
    assert result.returncode == 1
    assert f"replayed {dead} as stream entry" in result.stdout
    assert "replayed 1 of 3" in result.stdout
    assert f"{empty} kept no message fields" in result.stderr
    assert f"no dead letter 1-1 in {settings.dead_key}" in result.stderr
    assert [eid for eid, _ in r.xrange(settings.dead_key)] == [empty]
    ((_, fields),) = r.xrange(settings.stream_key)
    assert set(fields) == {"id", "count", "ts"}


# Wrong arguments, said before Redis is dialled: tests/unit/cli/test_dead_letters.py.


def test_an_unreachable_redis_is_one_line_and_exit_2(settings: Settings) -> None:
    result = countq(
        settings.model_copy(update={"redis_url": "redis://:secret@127.0.0.1:1/0"}), "list"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("countq: cannot reach Redis at redis://127.0.0.1:1/0")
    assert "secret" not in line
