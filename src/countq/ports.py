"""TCP ports on this host: the producer's HTTP_PORT and the consumer's CONSUMER_PORT."""

from __future__ import annotations

import socket

from countq.errors import ConfigError


def in_use(port: int) -> bool:
    """Whether a listener already holds `port` (bound as uvicorn and prometheus_client bind)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def free_port(preferred: int) -> int:
    """`preferred` when it is free, else one the kernel picks."""
    if preferred and not in_use(preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


def in_use_error(setting: str, port: int) -> ConfigError:
    return ConfigError(
        f"{setting}={port} is in use on this host: set {setting} to a free port"
        + (", or 0 for any" if setting == "CONSUMER_PORT" else "")
    )
