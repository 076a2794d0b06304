"""A running countq, driven and read through its public HTTP API only."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers.processes import wait_until


def post_counts(url: str, values: range, connections: int = 16) -> None:
    """POST /count once per value over `connections` keep-alive connections;
    every one must be queued. http.client, not httpx: a fraction of the CPU per
    request, so the server, not this client, is what gets measured."""
    parts = urlsplit(url)
    chunks = [values[i::connections] for i in range(connections)]

    def send(chunk: range) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            for value in chunk:
                body = json.dumps({"count": value})
                conn.request("POST", "/count", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
                assert response.status == 202, (response.status, answer)
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=connections) as pool:
        for done in [pool.submit(send, chunk) for chunk in chunks]:
            done.result()


def stats(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/stats", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stored_rows(url: str) -> int:
    return int(httpx.get(f"{url}/count", timeout=10).json()["rows"])


def wait_drained(url: str, rows: int, timeout: float, context: str = "") -> None:
    """Until `rows` are stored and the queue holds nothing, pending included;
    then nothing was dead-lettered either."""

    def drained() -> bool:
        now = stats(url)
        return (now["stored_rows"], now["backlog"], now["pending"]) == (rows, 0, 0)

    try:
        wait_until(drained, timeout=timeout, interval=0.25)
    except TimeoutError:
        pytest.fail(f"not drained to {rows} rows within {timeout}s: {stats(url)}\n{context}")
    assert stats(url)["dead_letters"] == 0
    assert stored_rows(url) == rows
