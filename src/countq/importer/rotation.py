"""The application user's password, from its secret to MySQL, rotation included.

Terraform writes a new password as the secret's AWSPENDING version when
`mysql_app_password_version` is bumped (Secrets Manager's own rotation
protocol; the services read AWSCURRENT only). `provision`, which holds the
master login, then settles it:

1. MySQL accepts the pending password beside the current one;
2. a login with the pending password is checked;
3. AWSCURRENT moves to the pending version, and AWSPENDING is dropped;
4. after MYSQL_ROTATION_GRACE_S, MySQL stops accepting the old password. A
   service still holding it is refused at its next new connection and fetches
   AWSCURRENT again (countq.credentials), which by then is the new one.

So AWSCURRENT never holds a password MySQL refuses, and the old one stays
valid long enough for Secrets Manager's change to reach every reader (a
service that read AWSCURRENT just before the move). Every step is safe to
repeat: a run that stopped half way is finished by the next, and a run with
nothing pending sets the current password again and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from countq import aws
from countq.config import Settings
from countq.errors import SecretError
from countq.importer import admin

log = logging.getLogger(__name__)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


@dataclass(frozen=True)
class Settled:
    username: str
    excess_privileges_revoked: bool
    rotated: bool


def _value(sm: Any, arn: str, version_id: str) -> dict[str, str]:
    raw = sm.get_secret_value(SecretId=arn, VersionId=version_id).get("SecretString")
    try:
        value = json.loads(raw or "")
    except ValueError:
        value = None
    if not isinstance(value, dict) or not {"username", "password"} <= value.keys():
        raise SecretError(f"secret {arn} version {version_id} is not {{username, password}}")
    return value


def settle(settings: Settings, arn: str) -> Settled:
    """Make MySQL's app user match the secret, promoting a pending password (see above)."""
    sm = aws.client("secretsmanager", settings)
    stages = sm.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    holding = {stage: vid for vid, labels in stages.items() for stage in labels}
    current, pending = holding.get(CURRENT), holding.get(PENDING)
    if current is None:
        # Secrets Manager makes a secret's first version AWSCURRENT itself.
        raise SecretError(f"secret {arn} has no AWSCURRENT version yet")

    if pending is None or pending == current:
        # Nothing to rotate, or the first version (AWSCURRENT and AWSPENDING
        # at once; no service runs before this first provision), or a run that
        # stopped after the move: the current password, and only it.
        app = _value(sm, arn, current)
        revoked = admin.ensure_app_user(settings, app["username"], app["password"])
        if pending is not None:
            sm.update_secret_version_stage(
                SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=pending
            )
        # A stopped run's move left AWSPREVIOUS behind; a first version has none.
        resumed = pending is not None and PREVIOUS in holding
        return Settled(app["username"], revoked, rotated=resumed)

    old, new = _value(sm, arn, current), _value(sm, arn, pending)
    # A renamed user has nobody logged in under its new name to keep working.
    keep = old["password"] if old["username"] == new["username"] else None
    admin.ensure_app_user(settings, new["username"], new["password"], keep=keep)
    admin.check_login(settings, new["username"], new["password"])
    sm.update_secret_version_stage(
        SecretId=arn, VersionStage=CURRENT, MoveToVersionId=pending, RemoveFromVersionId=current
    )
    sm.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=pending)
    log.info(
        "app password of %s rotated: AWSCURRENT is version %s; the old one is accepted"
        " for %.0f s more",
        new["username"],
        pending,
        settings.mysql_rotation_grace_s,
    )
    time.sleep(settings.mysql_rotation_grace_s)
    revoked = admin.ensure_app_user(settings, new["username"], new["password"])
    log.info("old app password of %s no longer accepted", new["username"])
    return Settled(new["username"], revoked, rotated=True)
