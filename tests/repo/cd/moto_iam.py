"""moto_server with IAM enforced: every request is evaluated against the
caller's policies (moto's INITIAL_NO_AUTH_ACTION_COUNT=0; docs.getmoto.org,
"IAM-like Access Control"), so a call the role does not allow fails as in AWS.

moto's evaluation is "very basic" (its docs; moto/iam/access_control.py,
moto 5.2). What it does, and what this server adds:

- Action: evaluated for every request, as `<signing name>:<operation>`.
  CloudWatch signs as `monitoring`; its IAM prefix is `cloudwatch` (fixed here).
- Resource: moto names the resource only for S3 (the bucket or object ARN),
  for IAM calls on an existing role (its ARN) and for sts:AssumeRole. For
  every other request it passes "*", which no ARN pattern matches, so every
  scoped statement would deny. Here "*" means "resource unknown": such a
  statement then matches by its actions alone.
- Condition: moto checks StringEquals only, and only on the keys it fills
  in (sts:ExternalId for trust policies; tests/repo/infra/moto_server.py adds
  aws:SecureTransport). Every other condition (aws:RequestTag/*,
  aws:ResourceTag/*, iam:PassedToService, ec2:CreateAction, Null, ArnEquals,
  StringLike...) is taken as met.

So what a run under this server proves is that each call the tools made is
allowed by some statement of the role, with S3 and existing-role ARNs
checked; which environment's resources a statement reaches, and its
conditions, stay with the hand-kept list (tests/repo/cd/test_permissions.py).

Two more things AWS does that moto needs told:
- The harness's own key ("testing") stands for the account's root user,
  which no policy limits: the bootstrap apply and the tests' own reads.
- AssumeRoleWithWebIdentity is an unsigned call (the web identity token is
  the credential), as GitHub's OIDC login makes it.

Each evaluated request is appended to $MOTO_IAM_LOG (JSON lines: principal,
action, resource, allowed), for the tests to see what was checked.

Usage: python -m tests.repo.cd.moto_iam [moto_server's arguments]
"""

from __future__ import annotations

import json
import os
from typing import Any

# tests/repo/infra/moto_server.py's fix for bucket policies, applied on import.
from tests.repo.infra import moto_server as _bucket_policy_fix  # noqa: F401

os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase
from moto.s3.responses import ACTION_MAP

settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
ROOT_KEY = "testing"
UNSIGNED = ("AssumeRoleWithWebIdentity",)  # one action: compared as moto parses it
# Signing names that differ from the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}
LOG = os.environ.get("MOTO_IAM_LOG")

_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _authenticate_and_authorize_action(
    self: Any, iam_request_cls: type, resource: str = "*"
) -> None:
    authorization = self.headers.get("Authorization", "")
    if f"Credential={ROOT_KEY}/" in authorization:
        return  # the account's root user
    if not authorization and getattr(self, "querystring", {}).get("Action") == list(UNSIGNED):
        return
    _authorize(self, iam_request_cls, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action  # type: ignore[method-assign]

_init = IAMRequestBase.__init__


def _request_init(self: IAMRequestBase, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    service, _, operation = self._action.partition(":")
    self._action = f"{IAM_PREFIX.get(service, service)}:{operation}"


IAMRequestBase.__init__ = _request_init  # type: ignore[method-assign]

_check = IAMRequestBase.check_action_permitted


def _check_action_permitted(self: IAMRequestBase, resource: str) -> None:
    allowed = False
    try:
        _check(self, resource)
        allowed = True
    finally:
        if LOG:
            entry = {
                "principal": self._access_key.arn,
                "action": self._action,
                "resource": resource,
                "allowed": allowed,
            }
            with open(LOG, "a") as log:
                log.write(json.dumps(entry) + "\n")


IAMRequestBase.check_action_permitted = _check_action_permitted  # type: ignore[method-assign]

_matches = IAMPolicyStatement._check_element_matches


def _check_element_matches(self: IAMPolicyStatement, statement_element: Any, value: str) -> bool:
    if statement_element == "Resource" and value == "*":
        return True  # moto does not know the resource: the statement's actions decide
    return bool(_matches(self, statement_element, value))


IAMPolicyStatement._check_element_matches = _check_element_matches  # type: ignore[method-assign]

# S3: moto names a bucket call by its ACTION_MAP, which has the operation
# name where IAM has another action (HeadBucket is authorized by s3:ListBucket;
# "public_access_block" never matches the real ?publicAccessBlock) and lacks
# subresources the provider reads and writes, which then fall to its DEFAULT
# (GET: ListBucket, PUT: CreateBucket, DELETE: DeleteBucket). The IAM actions
# of the S3 API reference ("Actions, resources, and condition keys for Amazon S3").
ACTION_MAP["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"
_BUCKET_SUBRESOURCES = {
    "GET": {
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "ownershipControls": "GetBucketOwnershipControls",
        "encryption": "GetEncryptionConfiguration",
        "object-lock": "GetBucketObjectLockConfiguration",
        "requestPayment": "GetBucketRequestPayment",
        "replication": "GetReplicationConfiguration",
        "intelligent-tiering": "GetIntelligentTieringConfiguration",
        "analytics": "GetAnalyticsConfiguration",
        "metrics": "GetMetricsConfiguration",
        "inventory": "GetInventoryConfiguration",
    },
    "PUT": {
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "ownershipControls": "PutBucketOwnershipControls",
        "encryption": "PutEncryptionConfiguration",
        "object-lock": "PutBucketObjectLockConfiguration",
        "requestPayment": "PutBucketRequestPayment",
        "replication": "PutReplicationConfiguration",
    },
    "DELETE": {
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "ownershipControls": "PutBucketOwnershipControls",
        "encryption": "PutEncryptionConfiguration",
        "replication": "PutReplicationConfiguration",
    },
}
for _method, _subresources in _BUCKET_SUBRESOURCES.items():
    ACTION_MAP["BUCKET"][_method].update(_subresources)

if __name__ == "__main__":
    from moto.server import main

    main()
