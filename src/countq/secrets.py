"""JSON secrets from AWS Secrets Manager, fetched by ARN and cached in-process.

Services hold only the ARN; the value lives in this process's memory and is
fetched again (``refresh=True``) when a server refuses the cached credentials,
which is how a rotation reaches a running service without a restart. Values
are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[str, dict[str, str]] = {}
_client: Any = None


class SecretError(RuntimeError):
    """A secret could not be fetched or is not a JSON object of strings."""


def _secretsmanager() -> Any:
    global _client
    if _client is None:
        # Imported here so code paths that never read a secret (the local
        # runner, the CLI's other commands) do not pay for loading boto3.
        import boto3

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        # boto3 honours AWS_ENDPOINT_URL by itself (moto in tests, a VPC
        # endpoint elsewhere), so nothing to pass for it here.
        _client = boto3.session.Session().client("secretsmanager", region_name=region)
    return _client


def _fetch(arn: str) -> dict[str, str]:
    try:
        response = _secretsmanager().get_secret_value(SecretId=arn)
    except Exception as exc:
        # The exception text names the ARN and the AWS error, never the value.
        raise SecretError(f"cannot read secret {arn}: {exc}") from exc
    raw = response.get("SecretString")
    if raw is None:
        raise SecretError(f"secret {arn} has no SecretString (binary secrets are not supported)")
    try:
        value = json.loads(raw)
    except ValueError:
        raise SecretError(f"secret {arn} is not JSON") from None
    if not isinstance(value, dict):
        raise SecretError(f"secret {arn} is not a JSON object")
    # RDS-managed secrets may carry non-string fields (port as a number).
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def get_secret(arn: str, *, refresh: bool = False) -> dict[str, str]:
    """The secret at `arn` as a dict; `refresh=True` bypasses the cache.

    The lock is held across the fetch so threads starting together make one
    request for a secret they have not cached yet, not one each.
    """
    with _lock:
        if refresh or arn not in _cache:
            _cache[arn] = _fetch(arn)
            log.info("secret %s fetched%s", arn, " again" if refresh else "")
        return dict(_cache[arn])


def clear_cache() -> None:
    """Forget cached values and the client (tests; a new AWS endpoint or region)."""
    global _client
    with _lock:
        _cache.clear()
        _client = None
