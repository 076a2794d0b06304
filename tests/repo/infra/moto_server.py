"""moto_server, with two fixes: bucket policies answer as in AWS, and a
service's first requests may arrive at once.

moto evaluates only StringEquals conditions and takes any other condition
as met; it also takes a statement whose condition is not met as denying,
whatever its effect. So the frontend bucket's "TlsOnly" statement (Deny s3:*
when the Bool aws:SecureTransport is false) refuses every upload, although
in AWS the CLI's requests go over HTTPS and that statement does not apply to
them. Here Bool conditions are evaluated, a request carries
aws:SecureTransport=true as it would in AWS, and a Deny whose condition is
not met does not apply.

moto 5.2.6's ServiceModel.operation_model and botocore's, which it calls,
cache under the same key in one dict: between the two stores another thread
can read botocore's model, which lacks moto's `http_trait`. Terraform's
parallel first calls to a service (two CreateBucket at once) then got a 500,
"'OperationModel' object has no attribute 'http_trait'". Here moto's model is
cached under a key of its own. Everything else is moto's own.

Usage: python moto_server.py [moto_server's arguments]
"""

from __future__ import annotations

from typing import Any

from botocore.model import ServiceModel as BotocoreServiceModel
from moto.core.model import OperationModel, ServiceModel
from moto.iam import policy_conditions
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.server import main


def bool_operation(expected: list[str] | str, actual: str) -> bool:
    wanted = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in [str(w).lower() for w in wanted]


policy_conditions.CONDITION_OPERATIONS["Bool"] = bool_operation

_is_action_permitted = IAMPolicyStatement.is_action_permitted


def is_action_permitted(
    self: IAMPolicyStatement,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: dict[str, str] | None = None,
) -> Any:
    values = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
    if self._statement.get("Effect") == "Deny" and not self._check_conditions(values):
        return PermissionResult.NEUTRAL
    return _is_action_permitted(self, action, resource, principal, values)


IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


def operation_model(self: ServiceModel, operation_name: str) -> OperationModel:
    key = ("moto_operation_model", operation_name)
    found = self._instance_cache.get(key)
    if found is None:  # two threads may both build it: the same model either way
        botocore_model = BotocoreServiceModel.operation_model(self, operation_name)
        found = OperationModel(botocore_model._operation_model, self, operation_name)
        self._instance_cache[key] = found
    return found


ServiceModel.operation_model = operation_model  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
