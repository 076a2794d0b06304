"""The dead-letter streams `{<queue>}:dead` (one per partition): read them, move
entries back, remove them.

What `countq dead-letters` does, without the command line. A partition's keys
share its hash tag, so the replay script touches one slot and runs unchanged
on a standalone Redis and on a cluster; a dead letter goes back onto its own
partition's stream. Entry ids are per stream, so two partitions may each hold
the same id: an id names the entry in each partition that has it (replay
takes them one call at a time, the first partition first).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from countq.config import Settings
from countq.credentials import retry_refused
from countq.queue import keys
from countq.queue.client import (
    REPLAY_LUA,
    SyncClient,
    connect,
    login_refused,
    redis_login,
    refusal,
)
from countq.queue.partitions import Partition, bound_per_partition, known, registry_key

ENTRY_ID = re.compile(r"^\d+(-\d+)?$")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    """Its id in the dead-letter stream; starts with when it was dead-lettered (ms)."""
    fields: dict[str, str]
    dead_key: str = ""
    """The dead-letter stream that holds it (its partition's)."""

    @property
    def reason(self) -> str:
        return self.fields.get(keys.REASON, "")

    @property
    def source_entry(self) -> str | None:
        """The stream entry id it had."""
        return self.fields.get(keys.SOURCE_ENTRY)

    @property
    def message(self) -> dict[str, str]:
        """The message's own fields, as the producer wrote them."""
        return {k: v for k, v in self.fields.items() if k not in keys.DEAD_LETTER_FIELDS}

    @property
    def dead_lettered_ms(self) -> int:
        return int(self.entry_id.split("-")[0])

    def age_s(self, now_ms: int | None = None) -> float:
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        return max(0.0, (now_ms - self.dead_lettered_ms) / 1000)


class DeadLetters:
    def __init__(self, settings: Settings, client: SyncClient | None = None) -> None:
        self.settings = settings
        self.login = redis_login(settings)
        self.client = client or connect(settings, socket_timeout=5.0)
        self._replay = self.client.register_script(REPLAY_LUA)
        registered = self._call(lambda: self.client.smembers(registry_key(settings)))
        self.partitions: list[Partition] = known(settings, set(registered))

    def _call(self, call: Any) -> Any:
        return retry_refused(call, self.login, login_refused)

    @property
    def where(self) -> str:
        """The dead-letter streams, for a person."""
        first = self.partitions[0].dead_key
        more = len(self.partitions) - 1
        return f"{first} and {more} other partition(s)" if more else first

    def count(self) -> int:
        return sum(
            int(self._call(lambda p=p: self.client.xlen(p.dead_key))) for p in self.partitions
        )

    def newest(self, limit: int) -> list[DeadLetter]:
        """Newest first, over every partition."""
        found: list[DeadLetter] = []
        for p in self.partitions:
            entries = self._call(
                lambda p=p: self.client.xrevrange(p.dead_key, "+", "-", count=limit)
            )
            found.extend(DeadLetter(eid, dict(fields), p.dead_key) for eid, fields in entries)
        found.sort(key=lambda d: _id_order(d.entry_id), reverse=True)
        return found[:limit]

    def get(self, entry_id: str) -> DeadLetter | None:
        for p in self.partitions:
            entries = self._call(lambda p=p: self.client.xrange(p.dead_key, entry_id, entry_id))
            if entries:
                return DeadLetter(entries[0][0], dict(entries[0][1]), p.dead_key)
        return None

    def all_ids(self, page: int = 1000) -> list[str]:
        """Every entry id, oldest first (read in pages; a stream may be long); an
        id two partitions hold is there twice."""
        ids: list[str] = []
        for p in self.partitions:
            start = "-"
            while True:
                entries = self._call(
                    lambda s=start, p=p: self.client.xrange(p.dead_key, s, "+", count=page)
                )
                ids.extend(eid for eid, _ in entries)
                if len(entries) < page:
                    break
                start = f"({entries[-1][0]}"
        return sorted(ids, key=_id_order)

    def replay(self, entry_id: str) -> str | None:
        """Move one dead letter back onto its partition's stream (one atomic script
        call); the first partition that holds the id.

        Returns the new stream entry id, or None when there is no such dead
        letter. Raises BacklogFull at the partition's share of MAX_BACKLOG,
        NotReplayable for a dead letter without message fields.
        """
        bound = bound_per_partition(self.settings)
        for p in self.partitions:
            script_keys, args = keys.replay_call(p.tag, entry_id, bound)
            try:
                new_id = self._call(lambda k=script_keys, a=args: self._replay(keys=k, args=a))
            except ResponseError as exc:
                raise refusal(exc, bound) from None
            if new_id is not None:
                return str(new_id)
        return None

    def delete(self, entry_ids: list[str]) -> int:
        """Remove these entries from every partition; returns how many existed."""
        if not entry_ids:
            return 0
        return sum(
            int(self._call(lambda p=p: self.client.xdel(p.dead_key, *entry_ids)))
            for p in self.partitions
        )

    def delete_older_than(self, cutoff_ms: int) -> int:
        """Remove every entry dead-lettered before `cutoff_ms` (one XTRIM MINID each)."""
        minid = f"{cutoff_ms}-0"
        return sum(
            int(
                self._call(
                    lambda p=p: self.client.xtrim(p.dead_key, minid=minid, approximate=False)
                )
            )
            for p in self.partitions
        )

    def close(self) -> None:
        self.client.close()


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
