"""MySQL named locks: one run at a time on a database, across processes and hosts.

A named lock (GET_LOCK) belongs to its session: RELEASE_LOCK frees it, and so
does the server when the session ends, so a process that dies never leaves
it held.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MAX_NAME = 64  # MySQL's limit for a lock name


def lock_name(purpose: str, database: str) -> str:
    """The lock of one kind of run (`importer`, `retention`) on `database`."""
    return f"countq.{purpose}.{database}"[:MAX_NAME]


@contextmanager
def named_lock(cur: Any, name: str, timeout_s: float = 0) -> Iterator[bool]:
    """Hold `name` on the cursor's session for the block. Yields False, holding
    nothing, when another session kept it past `timeout_s` (whole seconds)."""
    cur.execute("SELECT GET_LOCK(%s, %s)", (name, max(0, int(timeout_s))))
    (got,) = cur.fetchone() or (None,)
    if got != 1:
        yield False
        return
    try:
        yield True
    finally:
        cur.execute("SELECT RELEASE_LOCK(%s)", (name,))
