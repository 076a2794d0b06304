"""countq.aws: the region fallback, written once (Settings.aws_region)."""

from __future__ import annotations

import pytest

from countq import aws
from countq.config import Settings


@pytest.mark.parametrize(
    ("region", "default", "expected"),
    [
        ("eu-west-3", "us-east-1", "eu-west-3"),  # AWS_REGION wins
        (None, "us-east-1", "us-east-1"),
        (None, None, None),
    ],
)
def test_aws_region_then_aws_default_region(
    monkeypatch: pytest.MonkeyPatch, region: str | None, default: str | None, expected: str | None
) -> None:
    for name, value in {"AWS_REGION": region, "AWS_DEFAULT_REGION": default}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert Settings().aws_region == expected
    assert aws.region(Settings()) == expected
    assert aws.region() == expected  # no settings at hand: the same rule


def test_the_settings_region_is_the_one_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    settings = Settings()
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert aws.region(settings) == "eu-west-3"
    assert aws.client("s3", settings).meta.region_name == "eu-west-3"
