"""countq.secrets against Secrets Manager from moto: caching, refresh, errors, endpoint."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from countq import credentials
from countq.errors import SecretError

REGION = "eu-west-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    credentials.clear_cache()
    yield
    credentials.clear_cache()


@pytest.fixture
def sm(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def test_cached_until_refresh(sm: Any) -> None:
    arn = sm.create_secret(
        Name="db", SecretString=json.dumps({"username": "app", "password": "one", "port": 3306})
    )["ARN"]
    assert credentials.get_secret(arn) == {"username": "app", "password": "one", "port": "3306"}

    sm.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": "app", "password": "two"})
    )
    assert credentials.get_secret(arn)["password"] == "one"  # cached: no call per connection
    assert credentials.get_secret(arn, refresh=True)["password"] == "two"
    assert credentials.get_secret(arn)["password"] == "two"


def test_returned_dict_is_a_copy(sm: Any) -> None:
    arn = sm.create_secret(Name="c", SecretString='{"password": "x"}')["ARN"]
    credentials.get_secret(arn)["password"] = "mutated"
    assert credentials.get_secret(arn)["password"] == "x"


def test_concurrent_first_reads_make_one_request(sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = sm.create_secret(Name="shared", SecretString='{"password": "x"}')["ARN"]
    calls = []
    real_fetch = credentials._fetch

    def slow_fetch(a: str) -> dict[str, str]:
        calls.append(a)
        time.sleep(0.05)
        return real_fetch(a)

    monkeypatch.setattr(credentials, "_fetch", slow_fetch)
    results: list[dict[str, str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(credentials.get_secret(arn)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [arn] and results == [{"password": "x"}] * 8


def test_errors_name_the_arn_never_the_value(sm: Any) -> None:
    with pytest.raises(SecretError, match=r"cannot read secret .*missing"):
        credentials.get_secret("arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing")
    arn = sm.create_secret(Name="text", SecretString="hunter2-not-json")["ARN"]
    with pytest.raises(SecretError, match="is not JSON") as err:
        credentials.get_secret(arn)
    assert "hunter2" not in str(err.value)


def test_endpoint_from_aws_endpoint_url(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the services' tests and a VPC-endpoint setup: boto3 reads AWS_ENDPOINT_URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint)
        arn = client.create_secret(Name="via-server", SecretString='{"password": "srv"}')["ARN"]
        assert credentials.get_secret(arn) == {"password": "srv"}
    finally:
        server.stop()
