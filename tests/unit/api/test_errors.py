"""Every 4xx the API answers, and its message; no Redis or database is needed,
because a refused request never reaches them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.api.errors import invalid_body, validated
from countq.api.schemas import CountIn
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
    ("body", "status", "detail"),
    [
        (b"", 400, "body is not valid JSON"),
        (b"[" * 600, 400, "body is not valid JSON"),
        (b'"x"', 422, 'body must be a JSON object like {"count": 1764283170}'),
        (b'{"count": NaN}', 422, "count must be an integer, not a number with a fraction"),
        (b'{"count": 1e3}', 422, "count must be an integer, not a number with a fraction"),
        (b'{"count": {}}', 422, "count must be an integer, not an object"),
        (b'{"count": 12345678901234567890}', 422, "count must fit in a signed 64-bit integer"),
    ],
)
def test_what_pydantic_finds_wrong_becomes_one_message(
    body: bytes, status: int, detail: str
) -> None:
    with pytest.raises(HTTPException) as refused:
        validated(CountIn, body)
    assert (refused.value.status_code, refused.value.detail) == (status, detail)


def test_several_errors_become_one_message() -> None:
    errors = [
        {"type": "missing", "loc": ("count",)},
        {"type": "string_too_long", "loc": ("name",), "msg": "too long"},
    ]
    assert invalid_body(errors) == (422, "count is required; name: too long")
