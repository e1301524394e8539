"""Resource policies of queues and streams (SQS's Policy attribute, Kinesis's PutResourcePolicy): whether a
policy document lets a caller of another account do an action on the resource. An explicit Deny wins;
actions match case-insensitively with wildcards (``SQS:SendMessage``, ``kinesis:*``)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from lamina.errors import InvalidParameterValueException
from lamina.services.iam.iam import Principal


def validate(value: Any, what: str) -> str | None:
    """``value`` (a JSON string or object; empty: none) as a stored policy document."""
    if value in ("", None):
        return None
    try:
        doc = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise InvalidParameterValueException(f"Invalid value for {what}: not JSON.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise InvalidParameterValueException(f"Invalid value for {what}: it needs a Statement list.")
    for st in statements:
        if st.get("Effect") not in ("Allow", "Deny"):
            raise InvalidParameterValueException(f"Invalid value for {what}: Effect must be Allow or Deny.")
    return json.dumps(doc)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in (value or [])]


def allows(policy: str | None, principal: Principal, action: str, resource: str) -> bool:
    if policy is None:
        return False
    verdict = False
    for st in json.loads(policy).get("Statement", []):
        who = st.get("Principal")
        names = _listed(who.get("AWS") if isinstance(who, dict) else who)
        if not any(n in ("*", principal.account_id, f"arn:aws:iam::{principal.account_id}:root", principal.arn)
                   for n in names):
            continue
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(st.get("Action"))):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _listed(st.get("Resource", resource))):
            continue
        if st.get("Effect") == "Deny":
            return False
        verdict = True
    return verdict
