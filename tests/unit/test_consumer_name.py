"""Consumer names: readable (host, pid) and unique per process even where
containers share the host's network, name and pid numbering."""

from __future__ import annotations

import os
import socket

from countq.worker.loop import consumer_name


def test_names_say_host_and_pid_and_never_repeat() -> None:
    names = {consumer_name() for _ in range(1000)}
    assert len(names) == 1000
    prefix = f"{socket.gethostname()}-{os.getpid()}-"
    assert all(n.startswith(prefix) and len(n) == len(prefix) + 6 for n in names)
