"""Consumer names: readable (host, pid) and unique per process even where
containers share the host's network, name and pid numbering."""

from __future__ import annotations

import os
import socket

from countq.worker.loop import consumer_name


def test_names_say_host_and_pid_and_never_repeat() -> None:
    # 32 random bits: two of 100 names collide about once in a million runs.
    names = {consumer_name() for _ in range(100)}
    assert len(names) == 100
    prefix = f"{socket.gethostname()}-{os.getpid()}-"
    assert all(n.startswith(prefix) and len(n) == len(prefix) + 8 for n in names)
