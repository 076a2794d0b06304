"""IAM authentication to ElastiCache: the application's Redis user has no
password; each new connection logs in with a short-lived token that the task
role signs.

The token is AWS's documented form: a SigV4 presigned URL, without its
scheme, of `GET http://<cache name>/?Action=connect&User=<user id>` (plus
`ResourceType=ServerlessCache` for a serverless cache), service
"elasticache", valid 900 s. ElastiCache checks it at AUTH only, and closes an
IAM-authenticated connection after 12 hours. redis-py asks the credential
provider on every new connection (sync, asyncio, and each node of a cluster),
so a reconnect (after those 12 hours, a failover, a dropped socket) presents
a token signed within the last TOKEN_REUSE_S seconds, never an expired one.
"""

from __future__ import annotations

import threading
from time import monotonic
from typing import Any

from redis.credentials import CredentialProvider

from countq import aws
from countq.config import Settings
from countq.errors import ConfigError

TOKEN_EXPIRES_S = 900
# Signing per connection would be wasted work; reusing a token for 10 minutes
# leaves it at least 5 minutes of validity when a connection presents it.
TOKEN_REUSE_S = 600


class ElastiCacheIAM(CredentialProvider):
    """(user, token) for redis-py; the token is signed again once TOKEN_REUSE_S old."""

    def __init__(
        self,
        user: str,
        cache_name: str,
        region: str,
        *,
        serverless: bool = True,
    ) -> None:
        self.user = user
        self.cache_name = cache_name
        self.region = region
        self.serverless = serverless
        self._lock = threading.Lock()
        self._token: str | None = None
        self._signed_at = 0.0
        self._credentials: Any = None

    def token(self) -> str:
        with self._lock:
            now = monotonic()
            if self._token is None or now - self._signed_at >= TOKEN_REUSE_S:
                self._token = self._sign()
                self._signed_at = now
            return self._token

    def _sign(self) -> str:
        # Imported here, as in countq.credentials: local runs never load botocore.
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.session import get_session

        if self._credentials is None:
            # The task role's credentials in ECS; botocore refreshes them itself.
            self._credentials = get_session().get_credentials()
            if self._credentials is None:
                raise ConfigError(
                    "REDIS_IAM_USER needs AWS credentials to sign its token, and none were found"
                )
        params = {"Action": "connect", "User": self.user}
        if self.serverless:
            params["ResourceType"] = "ServerlessCache"
        request = AWSRequest(method="GET", url=f"http://{self.cache_name}/", params=params)
        signer = SigV4QueryAuth(
            self._credentials.get_frozen_credentials(),
            "elasticache",
            self.region,
            expires=TOKEN_EXPIRES_S,
        )
        signer.add_auth(request)
        return str(request.url).removeprefix("http://")

    def get_credentials(self) -> tuple[str, str]:
        return self.user, self.token()

    async def get_credentials_async(self) -> tuple[str, str]:
        # Signing is a few local HMACs, and botocore's rare credential refresh
        # a local HTTP call: not worth a thread per connection.
        return self.get_credentials()


def iam_login(settings: Settings) -> ElastiCacheIAM | None:
    """The IAM credential provider that the settings ask for, or None (passwords, or no auth)."""
    user, cache = settings.redis_iam_user, settings.redis_iam_cache_name
    if not user and not cache:
        return None
    if not (user and cache):
        raise ConfigError(
            "REDIS_IAM_USER and REDIS_IAM_CACHE_NAME go together: set both, or neither"
        )
    if settings.redis_password or settings.redis_secret_arn or settings.redis_username:
        raise ConfigError(
            "REDIS_IAM_USER logs in with a signed token: unset REDIS_USERNAME, REDIS_PASSWORD"
            " and REDIS_SECRET_ARN"
        )
    if settings.redis_embedded:
        raise ConfigError("REDIS_IAM_USER needs REDIS_HOST or REDIS_URL (the ElastiCache endpoint)")
    region = aws.region(settings)
    if not region:
        raise ConfigError("REDIS_IAM_USER needs AWS_REGION (the cache's region) to sign its token")
    return ElastiCacheIAM(user, cache, region, serverless=settings.redis_iam_serverless)
