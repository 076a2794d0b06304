"""A real Redis Cluster from the machine's redis-server: primaries, optional
replicas, free local ports, and what a failover test needs (which node owns a
slot, SIGKILL a node, wait for its replica's promotion)."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.crc import key_slot

from tests.helpers.processes import wait_until
from tests.helpers.services import require_tool


@dataclass
class RedisClusterProcs:
    """`primaries` primaries with `replicas` replicas each; node_timeout_ms is
    how long a silent primary takes to be declared failed (promotion follows)."""

    root: Path
    primaries: int = 3
    replicas: int = 0
    node_timeout_ms: int = 1000
    ports: list[int] = field(default_factory=list)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> RedisClusterProcs:
        server, cli = require_tool("redis-server"), require_tool("redis-cli")
        while len(self.ports) < self.primaries * (1 + self.replicas):
            port = free_cluster_port()
            if port not in self.ports:
                self.ports.append(port)
        for port in self.ports:
            (self.root / f"node{port}").mkdir(parents=True)
            self._spawn(server, port)
        for port in self.ports:
            wait_until(lambda p=port: _ping(p), timeout=10)
        # redis-cli gives the first `primaries` addresses the slots, in order:
        # the first one owns slot 0.
        subprocess.run(
            [
                cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                "--cluster-replicas", str(self.replicas), "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip
        for port in self.ports:
            wait_until(lambda p=port: _cluster_ok(p), timeout=20)
        if self.replicas:  # every replica attached and synced before any test kills
            wait_until(self._replicas_synced, timeout=20)
        return self

    def _spawn(self, server: str, port: int) -> None:
        self.procs[port] = subprocess.Popen(
            [
                server,
                "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--save", "", "--appendonly", "no", "--dir", str(self.root / f"node{port}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def restart(self, port: int) -> None:
        """Start a killed node again: its nodes.conf makes it rejoin, as a replica
        of the primary that took over; returns once that replica is in sync."""
        self._spawn(require_tool("redis-server"), port)
        wait_until(lambda: _ping(port), timeout=10)
        wait_until(self._replicas_synced, timeout=30)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def live_port(self) -> int:
        return next(p for p in self.ports if self.procs[p].poll() is None)

    def slot_map(self) -> list[tuple[int, int, int]]:
        """(first slot, last slot, primary's port), as a live node sees them."""
        slots = redis.Redis(port=self.live_port()).cluster("slots")
        return sorted((int(start), int(end), int(primary[1])) for start, end, primary, *_ in slots)

    def slot_owner(self, slot: int) -> int:
        """The port of the primary that owns `slot`."""
        for start, end, port in self.slot_map():
            if start <= slot <= end:
                return port
        raise LookupError(f"slot {slot} is not covered")

    def primary_ports(self) -> list[int]:
        """Primaries in slot order (the first owns slot 0)."""
        return [port for _start, _end, port in self.slot_map()]

    def queue_on(self, primary: int, prefix: str) -> str:
        """A queue name whose hash tag's slot lives on the primary at port `primary`."""
        ranges = [(start, end) for start, end, port in self.slot_map() if port == primary]
        for i in range(100_000):
            name = f"{prefix}-{i}"
            if any(start <= key_slot_of(name) <= end for start, end in ranges):
                return name
        raise LookupError(f"no queue name found for the primary on port {primary}")

    def kill(self, port: int) -> float:
        """SIGKILL one node; the monotonic time of the kill."""
        self.procs[port].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        self.procs[port].wait(timeout=10)
        return killed

    def wait_promoted(self, slot: int, old: int, timeout: float = 30) -> int:
        """Wait until a live primary other than `old` owns `slot`; its port."""
        wait_until(lambda: self._owner_or_none(slot) not in (None, old), timeout, interval=0.05)
        return self.slot_owner(slot)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            proc.wait(timeout=10)

    def _owner_or_none(self, slot: int) -> int | None:
        try:
            return self.slot_owner(slot)
        except (redis.RedisError, LookupError):
            return None

    def _replicas_synced(self) -> bool:
        linked = 0
        for port in self.ports:
            info = redis.Redis(port=port).info("replication")
            if info["role"] == "slave":
                linked += info.get("master_link_status") == "up"
        return linked == self.primaries * self.replicas


def key_slot_of(queue: str) -> int:
    """The hash slot every key of `queue` lives in (they share its hash tag)."""
    return int(key_slot(f"{{{queue}}}".encode()))


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        if all(_is_free(p) for p in (port, port + 10000)):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ping(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port).ping())
    except redis.RedisError:
        return False


def _cluster_ok(port: int) -> bool:
    return bool(redis.Redis(port=port).cluster("info")["cluster_state"] == "ok")
