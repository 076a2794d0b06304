"""moto_server, with one fix that makes bucket policies answer as in AWS.

moto evaluates only StringEquals conditions and takes any other condition
as met; it also takes a statement whose condition is not met as denying,
whatever its effect. So the frontend bucket's "TlsOnly" statement (Deny s3:*
when the Bool aws:SecureTransport is false) refuses every upload, although
in AWS the CLI's requests go over HTTPS and that statement does not apply to
them. Here Bool conditions are evaluated, a request carries
aws:SecureTransport=true as it would in AWS, and a Deny whose condition is
not met does not apply. Everything else is moto's own.

Usage: python moto_server.py [moto_server's arguments]
"""

from __future__ import annotations

from typing import Any

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

if __name__ == "__main__":
    main()
