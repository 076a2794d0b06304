"""Every 4xx the API answers, and its message; no Redis or database is needed,
because a refused request never reaches them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.api.errors import invalid_body
from countq.config import Settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # No `with`: the lifespan (and so Redis and the database) never starts.
    yield TestClient(create_app(Settings(data_dir=tmp_path)))


def test_a_chunked_body_is_counted_as_it_arrives(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"count": 1'
        yield b" " * 2000
        yield b"}"

    response = client.post("/count", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 1024 bytes"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/json; charset=utf-8", "Content-Length": "99999"}, 413),
        ({"Content-Type": "application/json", "Content-Length": "x"}, 413),
    ],
)
def test_refused_before_the_body_is_read(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    response = client.post("/count", content=b"{}", headers=headers)
    assert response.status_code == status


def test_refusals_carry_cors_headers(client: TestClient) -> None:
    response = client.post(
        "/count", content=b"1", headers={"Origin": "https://example.org", "Content-Type": "x/y"}
    )
    assert response.status_code == 415
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ([{"type": "json_invalid", "loc": ("body", 3)}], (400, "body is not valid JSON")),
        ([{"type": "missing", "loc": ("body",)}], (400, "body is not valid JSON")),
        ([{"type": "missing", "loc": ("body", "count")}], (422, "count is required")),
        (
            [{"type": "int_type", "loc": ("body", "count"), "input": 1.5}],
            (422, "count must be an integer, not a number with a fraction"),
        ),
        (
            [{"type": "less_than_equal", "loc": ("body", "count"), "ctx": {"le": 2**63 - 1}}],
            (422, "count must fit in a signed 64-bit integer"),
        ),
        (
            [{"type": "string_too_long", "loc": ("body", "name"), "msg": "too long"}],
            (422, "name: too long"),
        ),
        (
            [
                {"type": "missing", "loc": ("body", "count")},
                {"type": "missing", "loc": ("body", "other")},
            ],
            (422, "count is required; other is required"),
        ),
    ],
)
def test_validation_errors_become_one_message(
    errors: list[dict[str, object]], expected: tuple[int, str]
) -> None:
    assert invalid_body(errors) == expected
