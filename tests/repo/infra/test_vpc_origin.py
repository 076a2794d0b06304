"""Issue 21: a change of what the CloudFront VPC origin points at must go
through a new origin. CloudFront refuses to update or delete an origin that a
distribution uses (CannotUpdateEntityWhileInUse, terraform-provider-aws issue
40905), and the provider plans every change to one as an in-place update.

moto has no VPC origins, so the origin cannot be applied here. The test writes
the state Terraform would hold for a deployed origin (and the record of its
target), replaces the ALB (it is absent from that state, so planned anew with
an unknown ARN) and reads the plan of modules/alb: the origin is replaced
because its target changed, the new one created before the old one is
deleted, under a name that differs from the old one (both exist at once).
What only AWS can show: that the distribution, updated onto the new origin in
between, releases the old one in time for its delete.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.repo.infra import harness

pytestmark = pytest.mark.slow  # two Terraform applies on moto

NAME = "countq-cbd"
ACCOUNT = "123456789012"
OLD_ALB = f"arn:aws:elasticloadbalancing:{harness.REGION}:{ACCOUNT}:loadbalancer/app/{NAME}/0ld"
OLD_TARGET = {
    "arn": OLD_ALB,
    "http_port": 80,
    "https_port": 443,
    "origin_protocol_policy": "http-only",
    "origin_ssl_protocols": ["TLSv1.2"],
}
TARGET_TYPE = [
    "object",
    {
        "arn": "string",
        "http_port": "number",
        "https_port": "number",
        "origin_protocol_policy": "string",
        "origin_ssl_protocols": ["tuple", ["string"]],
    },
]
ROOT = f"""
module "alb" {{
  source = "../terraform/modules/alb"

  name           = "{NAME}"
  vpc_id         = "vpc-0123456789abcdef0"
  vpc_cidr_block = "10.0.0.0/16"
  subnet_ids     = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
}}
"""


def deployed_state() -> dict[str, Any]:
    """What the state holds for an origin deployed on OLD_ALB (no other resource)."""
    origin_id = "vo_0ld0ld0ld0ld0ld0ld0ld"
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": str(uuid.uuid4()),
        "outputs": {},
        "resources": [
            {
                "module": "module.alb",
                "mode": "managed",
                "type": "terraform_data",
                "name": "vpc_origin_target",
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "id": str(uuid.uuid4()),
                            "input": {"value": OLD_TARGET, "type": TARGET_TYPE},
                            "output": {"value": OLD_TARGET, "type": TARGET_TYPE},
                            "triggers_replace": None,
                        },
                        "sensitive_attributes": [],
                    }
                ],
            },
            {
                "module": "module.alb",
                "mode": "managed",
                "type": "aws_cloudfront_vpc_origin",
                "name": "this",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "arn": f"arn:aws:cloudfront::{ACCOUNT}:vpcorigin/{origin_id}",
                            "etag": "E0LD",
                            "id": origin_id,
                            "tags": {},
                            "tags_all": {},
                            "timeouts": None,
                            "vpc_origin_endpoint_config": [
                                {
                                    "arn": OLD_ALB,
                                    "http_port": 80,
                                    "https_port": 443,
                                    # The name before issue 21 (no hash).
                                    "name": NAME,
                                    "origin_protocol_policy": "http-only",
                                    "origin_ssl_protocols": [{"items": ["TLSv1.2"], "quantity": 1}],
                                }
                            ],
                        },
                        "sensitive_attributes": [],
                    }
                ],
            },
        ],
        "check_results": None,
    }


@pytest.fixture(scope="module")
def origin_change(terraform_bin: str, cli_config: Path) -> dict[str, Any]:
    """The planned change of the VPC origin when the ALB it points at is replaced."""
    workdir = harness.BUILD / "vpc-origin"
    harness.copy_terraform(workdir / "terraform")
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    moto = harness.MotoServer(workdir / "moto.log")
    try:
        (root / "main.tf").write_text(ROOT)
        (root / "providers.tf").write_text(harness.provider_config(moto.url))
        (root / "terraform.tfstate").write_text(json.dumps(deployed_state(), indent=2))
        tf = harness.Terraform(terraform_bin, harness.terraform_env(cli_config), workdir / "tf.log")
        tf(root, "init", "-input=false", "-no-color")
        # -refresh=false: moto cannot read a VPC origin back; the state above is the truth.
        tf(root, "plan", "-refresh=false", "-no-color", "-out=tfplan")
        plan = json.loads(tf(root, "show", "-json", "tfplan").stdout)
    finally:
        moto.stop()
    changes = {c["address"]: c for c in plan["resource_changes"]}
    return changes


def test_a_new_origin_is_made_before_the_old_one_goes(origin_change: dict[str, Any]) -> None:
    origin = origin_change["module.alb.aws_cloudfront_vpc_origin.this"]
    # Create, then delete: the distribution moves to the new origin in between.
    assert origin["change"]["actions"] == ["create", "delete"], origin["change"]["actions"]
    assert origin["action_reason"] == "replace_by_triggers"
    target = origin_change["module.alb.terraform_data.vpc_origin_target"]
    assert target["change"]["actions"] == ["update"]
    assert origin_change["module.alb.aws_lb.this"]["change"]["actions"] == ["create"]
    # The new origin's name is not the old one's: both exist until the delete.
    before = origin["change"]["before"]["vpc_origin_endpoint_config"][0]
    after_unknown = origin["change"]["after_unknown"]["vpc_origin_endpoint_config"][0]
    assert before["name"] == NAME
    assert after_unknown["name"] is True and after_unknown["arn"] is True
