"""A small IAM policy evaluator: enough of AWS's rules to ask "would this
request be allowed?" of the bootstrap's policy documents.

Neither moto nor anything else here enforces IAM (moto ignores resources and
conditions), so the tests evaluate the documents themselves: Allow/Deny,
Action and Resource wildcards, Principal, and the condition operators the
bootstrap uses. Anything else in a document is an error, never a silent pass.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Operators the documents may use; an unknown one fails the evaluation.
STRING_OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike"}
OPERATORS = STRING_OPERATORS | {"Null", "Bool"}


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    # Condition keys of the request (aws:RequestTag/Environment, iam:PassedToService, ...).
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    # For trust policies: the federated principal the token comes from.
    principal: str | None = None


class UnsupportedPolicy(ValueError):
    pass


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    """IAM wildcards: * is any run of characters (including / and :), ? one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    found = {k.lower(): v for k, v in context.items()}.get(key.lower())
    expected = [str(v) for v in _as_list(expected)]
    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return bool((found is None) == (expected == ["true"]))
    if found is None:
        return False
    actual = [str(v) for v in _as_list(found)]
    if operator == "Bool":
        return any(a.lower() == e.lower() for a in actual for e in expected)
    like = operator in ("StringLike", "ArnLike")
    # A multi-valued request key (a list) matches when every value matches,
    # which is the strict reading; the bootstrap's keys are single-valued.
    return all(any(_glob(e, a, case=True) if like else a == e for e in expected) for a in actual)


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
        if unsupported in statement:
            raise UnsupportedPolicy(f"{unsupported} in {statement.get('Sid')}")
    actions = _as_list(statement.get("Action", []))
    if not any(_glob(a, request.action, case=False) for a in actions):
        return False
    if "Principal" in statement:
        principals = statement["Principal"]
        federated = _as_list(principals.get("Federated", []))
        if request.principal is None or request.principal not in federated:
            return False
    else:
        resources = _as_list(statement.get("Resource", []))
        if not any(_glob(r, request.resource, case=True) for r in resources):
            return False
    for operator, keys in statement.get("Condition", {}).items():
        if operator not in OPERATORS:
            raise UnsupportedPolicy(f"condition operator {operator} in {statement.get('Sid')}")
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, request.context):
                return False
    return True


def statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for d in documents for s in _as_list(d["Statement"])]


def allowed(documents: Iterable[Mapping[str, Any]], request: Request) -> bool:
    """True when some statement allows the request and none denies it."""
    verdict = False
    for statement in statements(documents):
        if _statement_matches(statement, request):
            if statement["Effect"] == "Deny":
                return False
            verdict = True
    return verdict


def action_patterns(documents: Iterable[Mapping[str, Any]]) -> list[str]:
    return [a for s in statements(documents) for a in _as_list(s.get("Action", []))]


def matches_any(patterns: Iterable[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)
