"""REDIS_IAM_USER's settings: what selects IAM login, and the one line for each mistake."""

from __future__ import annotations

import pytest

from countq import cli
from countq.config import Settings, get_settings
from countq.errors import ConfigError
from countq.queue.iam import ElastiCacheIAM, iam_login

IAM = {"redis_host": "cache.example", "redis_iam_user": "u", "redis_iam_cache_name": "c"}


def test_iam_login_signs_for_the_configured_user_cache_and_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    provider = iam_login(Settings(**IAM, redis_iam_serverless=False))
    assert isinstance(provider, ElastiCacheIAM)
    assert (provider.user, provider.cache_name, provider.region) == ("u", "c", "eu-west-3")
    assert provider.serverless is False


def test_without_iam_settings_nothing_changes() -> None:
    assert iam_login(Settings()) is None
    assert iam_login(Settings(redis_host="h", redis_password="p")) is None


@pytest.mark.parametrize(
    ("update", "region", "sentence"),
    [
        (
            {"redis_iam_cache_name": None},
            "eu-west-3",
            "REDIS_IAM_USER and REDIS_IAM_CACHE_NAME go together: set both, or neither",
        ),
        (
            {"redis_iam_user": None},
            "eu-west-3",
            "REDIS_IAM_USER and REDIS_IAM_CACHE_NAME go together: set both, or neither",
        ),
        (
            {"redis_password": "p"},
            "eu-west-3",
            "REDIS_IAM_USER logs in with a signed token: unset REDIS_USERNAME, REDIS_PASSWORD"
            " and REDIS_SECRET_ARN",
        ),
        (
            {"redis_secret_arn": "arn:s"},
            "eu-west-3",
            "REDIS_IAM_USER logs in with a signed token: unset REDIS_USERNAME, REDIS_PASSWORD"
            " and REDIS_SECRET_ARN",
        ),
        (
            {"redis_host": None},
            "eu-west-3",
            "REDIS_IAM_USER needs REDIS_HOST or REDIS_URL (the ElastiCache endpoint)",
        ),
        ({}, None, "REDIS_IAM_USER needs AWS_REGION (the cache's region) to sign its token"),
    ],
)
def test_each_mistake_is_one_sentence(
    update: dict[str, object], region: str | None, sentence: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    if region:
        monkeypatch.setenv("AWS_REGION", region)
    else:
        monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ConfigError) as raised:
        iam_login(Settings(**{**IAM, **update}))  # type: ignore[arg-type]
    assert str(raised.value) == sentence


def test_the_cli_exits_2_with_that_line_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache.example")
    monkeypatch.setenv("REDIS_IAM_USER", "u")
    monkeypatch.delenv("REDIS_IAM_CACHE_NAME", raising=False)
    get_settings.cache_clear()
    try:
        assert cli.main(["producer"]) == 2
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err == (
        "countq: REDIS_IAM_USER and REDIS_IAM_CACHE_NAME go together: set both, or neither\n"
    )
