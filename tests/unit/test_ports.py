"""Ports on this host: what is in use, a free one, and the sentence for a taken one."""

from __future__ import annotations

import socket

from countq.ports import free_port, in_use, in_use_error


def test_in_use_and_free_port() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        assert in_use(taken)
        other = free_port(taken)
        assert other != taken and not in_use(other)
    assert free_port(taken) == taken  # free again


def test_the_sentence_names_the_setting() -> None:
    assert str(in_use_error("HTTP_PORT", 5080)) == (
        "HTTP_PORT=5080 is in use on this host: set HTTP_PORT to a free port"
    )
    assert str(in_use_error("CONSUMER_PORT", 5081)).endswith("a free port, or 0 for any")
