"""moto's AWS as a server on 127.0.0.1: for the test process and the countq
processes it starts alike (AWS_ENDPOINT_URL), where in-process moto reaches
only the test's own process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer

from countq import credentials
from tests.helpers.processes import free_port


@contextmanager
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Start it, point this process's environment (and so its children's) at
    it with fake keys; yields its URL. No secret stays cached across it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    credentials.clear_cache()
    try:
        yield url
    finally:
        credentials.clear_cache()
        server.stop()
