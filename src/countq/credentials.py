"""Logins for Redis and MySQL: as configured, or from AWS Secrets Manager by ARN.

Services hold only the ARN; the secret's value lives in this process's memory
(never in a log) and is fetched again when a server refuses the cached login,
which is how a rotation reaches a running service without a restart. That
rule is written once, in `retry_refused` (and its asyncio twin), and every
client (the producer's and the consumer's Redis, the store's engine, the
importer's admin connection) goes through it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from countq import aws
from countq.errors import SecretError

log = logging.getLogger(__name__)

T = TypeVar("T")

_lock = threading.Lock()
_cache: dict[str, dict[str, str]] = {}
_client: Any = None


def _secretsmanager() -> Any:
    global _client
    if _client is None:
        _client = aws.client("secretsmanager")
    return _client


def _fetch(arn: str) -> dict[str, str]:
    try:
        # Said explicitly (it is the default): a rotation stages its new value as
        # AWSPENDING, and a service must only ever see what the server accepts.
        response = _secretsmanager().get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
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


@dataclass(frozen=True)
class Login:
    """A username and password: the secret's at `secret_arn` when one is set, else these."""

    secret_arn: str | None
    username: str | None = None
    password: str | None = None

    def get(self) -> tuple[str | None, str | None]:
        if self.secret_arn is None:
            return self.username, self.password
        secret = get_secret(self.secret_arn)
        return secret.get("username"), secret.get("password")

    def refresh_after(self, exc: Exception, refused: Callable[[Exception], bool]) -> None:
        """After `exc`: fetch the secret again when the server refused the login.

        Re-raises `exc` otherwise, and when there is no secret to fetch again
        (a configured password stays wrong however often it is tried).
        """
        if self.secret_arn is None or not refused(exc):
            raise exc
        log.warning("login refused; fetching secret %s again", self.secret_arn)
        get_secret(self.secret_arn, refresh=True)


def retry_refused(call: Callable[[], T], login: Login, refused: Callable[[Exception], bool]) -> T:
    """`call()`, and once more with a freshly fetched secret if the server refused the login."""
    try:
        return call()
    except Exception as exc:
        login.refresh_after(exc, refused)
    return call()


async def retry_refused_async(
    call: Callable[[], Awaitable[T]], login: Login, refused: Callable[[Exception], bool]
) -> T:
    """`retry_refused` for coroutines (the producer's Redis calls)."""
    try:
        return await call()
    except Exception as exc:
        login.refresh_after(exc, refused)
    return await call()
