"""`countq dev`'s choice of the consumer's port: CONSUMER_PORT when set, else its
default when free, else any free port, never the producer's."""

from __future__ import annotations

import contextlib
import socket

import pytest

from countq.cli.dev import _consumer_port
from countq.config import Settings
from countq.ports import in_use
from tests.helpers.processes import free_port


@pytest.fixture(autouse=True)
def no_consumer_port_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSUMER_PORT", raising=False)


def test_a_consumer_port_that_was_set_is_kept_even_when_taken() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # The consumer then stops with its own one line, naming CONSUMER_PORT.
        assert _consumer_port(Settings(consumer_port=port)) == port


def test_a_taken_default_is_replaced_by_a_free_port() -> None:
    settings = Settings(http_port=free_port())
    default = settings.consumer_port
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # already taken by another program: as good
            holder.bind(("0.0.0.0", default))
            holder.listen()
        chosen = _consumer_port(settings)
    assert chosen != default
    assert not in_use(chosen)


def test_never_the_producers_port() -> None:
    settings = Settings(http_port=Settings().consumer_port)
    assert _consumer_port(settings) != settings.http_port
