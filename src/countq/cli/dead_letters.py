"""`countq dead-letters list | show | replay | purge`: what an operator does with dead letters.

Exit status: 0 done; 1 something asked for was not done (no such entry, the
queue at MAX_BACKLOG, a purge not confirmed); 2 bad arguments or Redis not
reachable, in one line. The Redis side is countq.queue.deadletters, imported
only when this command runs: every `countq` (the health check too) parses with
this module's parser.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from typing import TYPE_CHECKING, Any

from countq.config import Settings
from countq.errors import BacklogFull, ConfigError, NotReplayable

if TYPE_CHECKING:
    from countq.queue.deadletters import DeadLetter, DeadLetters

PROG = "countq dead-letters"
DURATION = re.compile(r"^(\d+)([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def entry_id(text: str) -> str:
    from countq.queue.deadletters import ENTRY_ID

    if not ENTRY_ID.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a stream entry id (like 1764283170123-0)"
        )
    return text


def duration_s(text: str) -> int:
    match = DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (like 30m, 12h, 7d)")
    return int(match[1]) * UNIT_S[match[2]]


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "dead-letters",
        help="list | show | replay | purge the dead-letter stream",
        description="Inspect, replay and purge the dead-letter stream.",
    )
    p.set_defaults(handler=handler, iam_login=True, misuse=misuse)
    sub = p.add_subparsers(dest="action", required=True, metavar="list|show|replay|purge")
    ls = sub.add_parser("list", help="newest first: id, age, reason, the message's fields")
    ls.add_argument("--limit", type=positive, default=20, help="at most this many (default 20)")
    ls.add_argument("--json", action="store_true", help="one JSON array")
    show = sub.add_parser("show", help="one dead letter, every field")
    show.add_argument("id", type=entry_id)
    show.add_argument("--json", action="store_true", help="one JSON object")
    replay = sub.add_parser(
        "replay", help="move entries back onto the stream (same message id: stored once)"
    )
    replay.add_argument("ids", nargs="*", type=entry_id, metavar="ID")
    replay.add_argument("--all", action="store_true", help="every dead letter, oldest first")
    purge = sub.add_parser("purge", help="delete entries for good (asks unless --yes)")
    purge.add_argument("ids", nargs="*", type=entry_id, metavar="ID")
    purge.add_argument(
        "--older-than", type=duration_s, metavar="AGE", help="dead-lettered longer ago (7d, 12h)"
    )
    purge.add_argument("--yes", action="store_true", help="do not ask")


def misuse(args: argparse.Namespace) -> str | None:
    """What the parsers cannot say alone: one of two ways to name the entries."""
    if args.action == "replay" and bool(args.ids) == args.all:
        return "replay takes entry ids or --all (one of the two)"
    if args.action == "purge" and bool(args.ids) == (args.older_than is not None):
        return "purge takes entry ids or --older-than AGE (one of the two)"
    return None


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from countq.queue.deadletters import DeadLetters

    try:
        dead = DeadLetters(settings)
        try:
            return ACTIONS[args.action](dead, args)
        finally:
            dead.close()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise ConfigError(
            f"cannot reach Redis at {_where(settings)} ({exc}): check REDIS_URL or REDIS_HOST"
        ) from None


def _where(settings: Settings) -> str:
    """The server, without any password the URL may carry."""
    return re.sub(r"//[^@/]*@", "//", settings.effective_redis_url())


def as_json(d: DeadLetter, now_ms: int) -> dict[str, Any]:
    return {
        "id": d.entry_id,
        "dead_for_seconds": round(d.age_s(now_ms), 3),
        "reason": d.reason,
        "source_entry": d.source_entry,
        "stream": d.dead_key,
        "message": d.message,
    }


def age_text(seconds: float) -> str:
    """3d4h, 2h5m, 5m3s, 12s: the two largest units."""
    s = int(seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for (big, size), (small, small_size) in itertools.pairwise(units):
        if s >= size:
            return f"{s // size}{big}{(s % size) // small_size}{small}"
    return f"{s}s"


def do_list(dead: DeadLetters, args: argparse.Namespace) -> int:
    now_ms = time.time_ns() // 1_000_000
    entries = dead.newest(args.limit)
    if args.json:
        print(json.dumps([as_json(d, now_ms) for d in entries], indent=2))
        return 0
    total = dead.count()
    print(f"{total} dead letter(s) in {dead.where}; newest {len(entries)}:")
    for d in entries:
        fields = " ".join(f"{k}={v}" for k, v in d.message.items()) or "(no fields)"
        where = f"  [{d.dead_key}]" if len(dead.partitions) > 1 else ""
        print(f"{d.entry_id}  {age_text(d.age_s(now_ms)):>5}  {d.reason}  | {fields}{where}")
    return 0


def do_show(dead: DeadLetters, args: argparse.Namespace) -> int:
    d = dead.get(args.id)
    if d is None:
        print(f"{PROG}: no dead letter {args.id} in {dead.where}", file=sys.stderr)
        return 1
    now_ms = time.time_ns() // 1_000_000
    if args.json:
        print(json.dumps(as_json(d, now_ms), indent=2))
        return 0
    print(f"id:           {d.entry_id}")
    print(f"dead for:     {age_text(d.age_s(now_ms))}")
    print(f"reason:       {d.reason}")
    print(f"source entry: {d.source_entry or ''}")
    for key, value in d.message.items():
        print(f"message {key}: {value}")
    return 0


def do_replay(dead: DeadLetters, args: argparse.Namespace) -> int:
    ids = dead.all_ids() if args.all else args.ids
    status, replayed = 0, 0
    for eid in ids:
        try:
            new_id = dead.replay(eid)
        except BacklogFull as exc:
            print(
                f"{PROG}: refused at MAX_BACKLOG ({exc}); replayed {replayed}, "
                f"{len(ids) - replayed} left: run it again once the consumers caught up",
                file=sys.stderr,
            )
            return 1
        except NotReplayable:
            print(f"{PROG}: {eid} kept no message fields: nothing to replay", file=sys.stderr)
            status = 1
            continue
        if new_id is None:
            print(f"{PROG}: no dead letter {eid} in {dead.where}", file=sys.stderr)
            status = 1
            continue
        replayed += 1
        print(f"replayed {eid} as stream entry {new_id}")
    print(f"replayed {replayed} of {len(ids)}")
    return status


def do_purge(dead: DeadLetters, args: argparse.Namespace) -> int:
    key = dead.where
    cutoff_ms = 0
    if args.ids:
        what = f"{len(args.ids)} dead letter(s) from {key}"
    else:
        cutoff_ms = time.time_ns() // 1_000_000 - args.older_than * 1000
        cutoff = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(cutoff_ms / 1000))
        what = f"every dead letter in {key} dead-lettered before {cutoff}"
    if not args.yes and not _confirm(f"purge {what}? [y/N] "):
        print(f"{PROG}: nothing purged (answer y, or pass --yes)", file=sys.stderr)
        return 1
    removed = dead.delete(args.ids) if args.ids else dead.delete_older_than(cutoff_ms)
    print(f"purged {removed}")
    if args.ids and removed < len(args.ids):
        print(f"{PROG}: {len(args.ids) - removed} of the ids were not there", file=sys.stderr)
        return 1
    return 0


def _confirm(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()  # "" at end of input: not a yes
    return answer.strip().lower() in ("y", "yes")


ACTIONS = {"list": do_list, "show": do_show, "replay": do_replay, "purge": do_purge}
