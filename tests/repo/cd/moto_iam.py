"""moto_server with IAM enforced: every request is evaluated against the
caller's policies (moto's INITIAL_NO_AUTH_ACTION_COUNT=0; docs.getmoto.org,
"IAM-like Access Control"), so a call the role does not allow fails as in AWS.

moto's evaluation is "very basic" (its docs; moto/iam/access_control.py,
moto 5.2). What it does, and what this server adds:

- Action: evaluated for every request, as `<signing name>:<API operation>`.
  Where IAM names it otherwise, the IAM action is used here: CloudWatch signs
  as `monitoring` (IAM: `cloudwatch`), and several S3 operations are
  authorized by another action (HeadBucket by s3:ListBucket...: IAM_ACTION).
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

Three more things, where moto and AWS differ (the signature: see _check_signature):
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

settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
ROOT_KEY = "testing"
UNSIGNED = ("AssumeRoleWithWebIdentity",)  # one action: compared as moto parses it
# Signing names that differ from the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}
# moto names the action by the API operation; where IAM authorizes an
# operation with another action, the action IAM checks ("Actions, resources,
# and condition keys" of each service; for S3, also "Required permissions
# for Amazon S3 API operations").
IAM_ACTION = {
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:CopyObject": "s3:PutObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "s3:GetBucketReplication": "s3:GetReplicationConfiguration",
    "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "s3:DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "s3:DeleteBucketTagging": "s3:PutBucketTagging",
    "s3:GetBucketCors": "s3:GetBucketCORS",
    "s3:PutBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "lambda:Invoke": "lambda:InvokeFunction",
}
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
    action = f"{IAM_PREFIX.get(service, service)}:{operation}"
    self._action = IAM_ACTION.get(action, action)


IAMRequestBase.__init__ = _request_init  # type: ignore[method-assign]


def _check_signature(self: IAMRequestBase) -> None:
    """Not checked: moto recomputes the signature of REST requests wrongly
    (Lambda and CloudFront answer SignatureDoesNotMatch to botocore's valid
    requests). The access key and session token still name the principal,
    which is what the evaluation needs; signatures are not under test."""


IAMRequestBase.check_signature = _check_signature  # type: ignore[method-assign]

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

if __name__ == "__main__":
    from moto.server import main

    main()
