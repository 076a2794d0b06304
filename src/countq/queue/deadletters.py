"""The dead-letter stream `{<queue>}:dead`: read it, move entries back, remove them.

What `countq dead-letters` does, without the command line. Every key shares the
queue's hash tag, so the replay script touches one slot and runs unchanged on
a standalone Redis and on a cluster.
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

ENTRY_ID = re.compile(r"^\d+(-\d+)?$")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    """Its id in the dead-letter stream; starts with when it was dead-lettered (ms)."""
    fields: dict[str, str]

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

    def _call(self, call: Any) -> Any:
        return retry_refused(call, self.login, login_refused)

    def count(self) -> int:
        return int(self._call(lambda: self.client.xlen(self.settings.dead_key)))

    def newest(self, limit: int) -> list[DeadLetter]:
        """Newest first."""
        entries = self._call(
            lambda: self.client.xrevrange(self.settings.dead_key, "+", "-", count=limit)
        )
        return [DeadLetter(eid, dict(fields)) for eid, fields in entries]

    def get(self, entry_id: str) -> DeadLetter | None:
        key = self.settings.dead_key
        entries = self._call(lambda: self.client.xrange(key, entry_id, entry_id))
        return DeadLetter(entries[0][0], dict(entries[0][1])) if entries else None

    def all_ids(self, page: int = 1000) -> list[str]:
        """Every entry id, oldest first (read in pages; the stream may be long)."""
        ids: list[str] = []
        start = "-"
        while True:
            entries = self._call(
                lambda s=start: self.client.xrange(self.settings.dead_key, s, "+", count=page)
            )
            ids.extend(eid for eid, _ in entries)
            if len(entries) < page:
                return ids
            start = f"({entries[-1][0]}"

    def replay(self, entry_id: str) -> str | None:
        """Move one dead letter back onto the stream (one atomic script call).

        Returns the new stream entry id, or None when there is no such dead
        letter. Raises BacklogFull at MAX_BACKLOG, NotReplayable for a dead
        letter without message fields.
        """
        s = self.settings
        script_keys, args = keys.replay_call(s.redis_queue, entry_id, s.max_backlog)
        try:
            new_id = self._call(lambda: self._replay(keys=script_keys, args=args))
        except ResponseError as exc:
            raise refusal(exc, s.max_backlog) from None
        return None if new_id is None else str(new_id)

    def delete(self, entry_ids: list[str]) -> int:
        """Remove these entries; returns how many existed."""
        if not entry_ids:
            return 0
        return int(self._call(lambda: self.client.xdel(self.settings.dead_key, *entry_ids)))

    def delete_older_than(self, cutoff_ms: int) -> int:
        """Remove every entry dead-lettered before `cutoff_ms` (one XTRIM MINID)."""
        key = self.settings.dead_key
        return int(
            self._call(lambda: self.client.xtrim(key, minid=f"{cutoff_ms}-0", approximate=False))
        )

    def close(self) -> None:
        self.client.close()
