"""An ElastiCache IAM auth token made here, independently of botocore: AWS's
Signature Version 4 query-string signing (the documented algorithm, hashlib
and hmac only), with fixed fake credentials and a given time.

The tests make such a token the password of a Redis ACL user, then let the
application's own credential provider (botocore) log in as that user: the
login works only if both produce the same string.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from urllib.parse import quote

import pytest

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE//session+token="  # as a task role's credentials have
SERVICE = "elasticache"


def _encode(value: str) -> str:
    # SigV4's URI encoding: everything but the unreserved characters.
    return quote(value, safe="-_.~")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def token(
    user: str, cache_name: str, region: str, when: datetime, *, serverless: bool = True
) -> str:
    """The token for `GET http://<cache_name>/?Action=connect&User=<user>`, signed at `when`."""
    date, stamp = when.strftime("%Y%m%d"), when.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{date}/{region}/{SERVICE}/aws4_request"
    operation = {"Action": "connect", "User": user}
    if serverless:
        operation["ResourceType"] = "ServerlessCache"
    auth = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{ACCESS_KEY}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": "900",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Security-Token": SESSION_TOKEN,
    }
    params = {**operation, **auth}
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    canonical_request = "\n".join(
        [
            "GET",
            "/",
            canonical_query,
            f"host:{cache_name}",
            "",
            "host",
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            stamp,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(f"AWS4{SECRET_KEY}".encode(), date)
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    # AWS reads the parameters in any order; a Redis password is compared as
    # bytes, so this lays them out as botocore does: the operation's, then
    # the signing ones, then the signature.
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in params.items())
    return f"{cache_name}/?{query}&X-Amz-Signature={signature}"


@contextmanager
def frozen_aws(monkeypatch: pytest.MonkeyPatch, region: str) -> Iterator[list[datetime]]:
    """The fake credentials and `region` in the environment, and botocore's
    signing clock frozen at the yielded list's last time (append to move it)."""
    import botocore.auth

    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_REGION", region)
    times = [datetime(2026, 11, 30, 3, 4, 5)]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: times[-1])
    yield times
