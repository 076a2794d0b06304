"""A paced (open-loop) HTTP/1.1 POST load generator on raw asyncio sockets.

Request k of the run is due at t0 + k / rate whatever happened to the earlier
ones; connection c sends requests c, c + C, c + 2C, ... on one keep-alive
socket, so a slow answer delays only its own connection's next sends (which
then go out at once to catch up). httpx costs too much CPU per request to
offer 5,000 req/s from the same 2 cores; this costs a few tens of microseconds.

Alone: `python bench/loadgen.py --port 5080 --rate 5000 --seconds 10`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


def _request(port: int, body: bytes) -> bytes:
    return (
        f"POST /count HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _connection(
    port: int, index: int, connections: int, total: int, rate: float, t0: float, result: Result
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    try:
        for k in range(index, total, connections):
            delay = t0 + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at = time.perf_counter()
            writer.write(_request(port, b'{"count": %d}' % k))
            result.sent += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if head[9:12] == b"202":
                result.ok += 1
                result.latencies_ms.append((time.perf_counter() - sent_at) * 1000)
            else:
                result.failed += 1
    finally:
        writer.close()


async def run(port: int, rate: float, seconds: float, connections: int = 32) -> Result:
    result = Result()
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.1  # let every connection open first
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, c, connections, total, rate, t0, result) for c in range(connections))
    )
    result.elapsed_s = time.perf_counter() - started - 0.1
    return result


def paced(port: int, rate: float, seconds: float, connections: int = 32) -> Result:
    try:
        import uvloop

        return uvloop.run(run(port, rate, seconds, connections))
    except ImportError:
        return asyncio.run(run(port, rate, seconds, connections))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=5080)
    p.add_argument("--rate", type=float, default=5000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    r = paced(args.port, args.rate, args.seconds, args.connections)
    lat = sorted(r.latencies_ms)
    p99 = lat[int(len(lat) * 0.99)] if lat else float("nan")
    print(f"sent {r.sent}, 202 {r.ok}, other {r.failed}, {r.rate:,.0f}/s, HTTP p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
