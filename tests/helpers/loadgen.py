"""Open-loop POST /count load for tests, on raw asyncio sockets, every answer kept.

Request k is due at t0 + k / rate whatever happened to the earlier ones;
connection c sends requests c, c + C, ... on one keep-alive socket (httpx
costs too much CPU to offer 2,000 req/s from a loaded 2-core machine). Each
answer is recorded with its send time, latency, status and body, so a test
can check every 202's id and every refusal's JSON. Runs in a thread of its
own, so the test can kill things meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Answer:
    sent_at: float  # time.monotonic()
    latency_s: float
    status: int  # 0: the connection failed
    body: bytes


@dataclass
class OpenLoop:
    port: int
    rate: float
    connections: int = 200
    answers: list[Answer] = field(default_factory=list)
    started: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> OpenLoop:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the load generator did not stop"
        return self.answers

    async def _run(self) -> None:
        t0 = self.started = time.monotonic() + 0.2  # let every connection open first
        await asyncio.gather(*(self._connection(c, t0) for c in range(self.connections)))

    async def _connection(self, index: int, t0: float) -> None:
        writer: asyncio.StreamWriter | None = None
        k = index
        try:
            while not self._stop.is_set():
                due = t0 + k / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.monotonic()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.write(_request(self.port, b'{"count": %d}' % k))
                    status, body = await _answer(reader)
                except (OSError, asyncio.IncompleteReadError):
                    # The server went away: a failed request; reconnect for the next.
                    self.answers.append(Answer(sent, time.monotonic() - sent, 0, b""))
                    if writer is not None:
                        writer.close()
                    writer = None
                else:
                    self.answers.append(Answer(sent, time.monotonic() - sent, status, body))
                k += self.connections
        finally:
            if writer is not None:
                writer.close()


def _request(port: int, body: bytes) -> bytes:
    return (
        f"POST /count HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(head[9:12]), await reader.readexactly(length)


def post_counts(port: int, counts: range, connections: int = 8) -> list[int]:
    """POST each count once, `connections` requests in flight (closed loop);
    the statuses, in the order of `counts`."""

    async def run() -> list[int]:
        statuses = [0] * len(counts)

        async def connection(first: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                for i in range(first, len(counts), connections):
                    writer.write(_request(port, b'{"count": %d}' % counts[i]))
                    statuses[i] = (await _answer(reader))[0]
            finally:
                writer.close()

        await asyncio.gather(*(connection(c) for c in range(connections)))
        return statuses

    return asyncio.run(run())
