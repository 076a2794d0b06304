"""AWS: the region and the clients, set up in one place.

boto3 is imported on a client's first use, so a local run (no secrets, no
IAM login, no S3) never loads it.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import AliasChoices

from countq.config import Settings


def region(settings: Settings | None = None) -> str | None:
    """The settings' AWS_REGION, else AWS_DEFAULT_REGION (Settings.aws_region).

    Without settings at hand (a secret read under a Login), the same
    variables are read now, in the order that field's aliases give.
    """
    if settings is not None:
        return settings.aws_region
    aliases = Settings.model_fields["aws_region"].validation_alias
    assert isinstance(aliases, AliasChoices)
    return next(filter(None, (os.environ.get(str(name)) for name in aliases.choices)), None)


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for `service` in region(settings), on a session of its own
    (boto3's default session is not safe to share between threads).

    boto3 honours AWS_ENDPOINT_URL by itself (moto in tests, a VPC endpoint
    elsewhere), so nothing to pass for it here.
    """
    import boto3

    session: Any = boto3.session.Session()  # Any: the stubs know each service by name only
    return session.client(service, region_name=region(settings))
