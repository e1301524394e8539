"""Resource-based policies: AddPermission / RemovePermission / GetPolicy, and ``is_allowed``.

A statement grants a principal (an account id or account ARN, a lamina service principal such as
``events.lamina``, ``sqs.lamina`` or ``url.lamina``, or ``*``) an action (``lambda:InvokeFunction``,
``lambda:GetFunction``, ``lambda:*``...) on a function, one of its versions or one of its aliases,
optionally only for a ``SourceArn`` / ``SourceAccount``. Everything not granted is denied.

A statement on the unqualified function also covers its versions and aliases (lamina is more lenient
than Lambda here, which scopes each statement to exactly its qualifier).

Triggers check their grant each time they fire (``is_allowed``), and creating one adds the statement
it needs (``grant_trigger``), as the Lambda console does when you add a trigger; remove the statement and
the trigger stops invoking the function:

* a schedule: ``events.lamina`` may ``lambda:InvokeFunction`` with ``SourceArn`` the rule's ARN
  (``lamina-schedule-<name>``);
* a queue event source mapping: ``sqs.lamina``, ``SourceArn`` the queue's ARN (``lamina-esm-<uuid>``);
* a function URL with AuthType NONE: ``*`` may ``lambda:InvokeFunctionUrl`` with
  ``FunctionUrlAuthType: NONE`` (``FunctionURLAllowPublicAccess``, the console's statement). AWS_IAM
  URLs authorize the signed caller instead (``lamina.api.urls``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from lamina.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.store import queries, security
from lamina.store.models import Function, PolicyStatement

MAX_POLICY_BYTES = 20 * 1024
SID_RE = re.compile(r"[a-zA-Z0-9._-]{1,100}")
ACTION_RE = re.compile(r"lambda:\*|lambda:[a-zA-Z]+|\*")
SERVICE_PRINCIPALS = ("events.lamina", "sqs.lamina", "url.lamina", "scheduler.lamina")


class PolicyLengthExceededException(LambdaError):
    status = 400
    error_type = "PolicyLengthExceededException"


def _qualifier_key(qualifier: str | None) -> str:
    return "" if qualifier in (None, "", arns.LATEST) else str(qualifier)


def _target(deps: Deps, session: Any, account_id: str, function_name: str,
            qualifier: str | None, lock: bool = False) -> tuple[Function, str]:
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id, qualifier)
    fn = common.load_function(deps, session, account_id, ref.name, lock=lock)
    qual = _qualifier_key(ref.qualifier)
    if qual:
        exists = (queries.get_version(session, fn.id, int(qual)) if arns.VERSION_RE.fullmatch(qual)
                  else queries.get_alias(session, fn.id, qual))
        if exists is None:
            raise common.not_found(deps.settings.region, account_id, fn.name, qual)
    return fn, qual


def _principal(value: Any) -> dict[str, str] | str:
    if not isinstance(value, str) or not value or len(value) > 256 or re.search(r"\s", value):
        raise InvalidParameterValueException(f"Invalid principal: {value!r}")
    if value == "*":
        return "*"
    if re.fullmatch(r"\d{12}", value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:"):
        return {"AWS": value}
    if re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9.-]+", value):
        return {"Service": value}
    raise InvalidParameterValueException(f"Invalid principal: {value!r}")


def add_permission(deps: Deps, account_id: str, function_name: str, qualifier: str | None,
                   body: dict[str, Any]) -> str:
    """Add one statement; return it as a JSON string (AddPermission's ``Statement``)."""
    sid, action = body.get("StatementId"), body.get("Action")
    if not isinstance(sid, str) or not SID_RE.fullmatch(sid):
        raise InvalidParameterValueException(f"Invalid StatementId: {sid!r}")
    if not isinstance(action, str) or not ACTION_RE.fullmatch(action):
        raise InvalidParameterValueException(f"Invalid Action: {action!r}")
    principal = _principal(body.get("Principal"))
    condition: dict[str, dict[str, str]] = {}
    for field, op, key in (("SourceAccount", "StringEquals", "AWS:SourceAccount"),
                           ("SourceArn", "ArnLike", "AWS:SourceArn"),
                           ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
                           ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
                           ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType")):
        value = body.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value or len(value) > 1024:
            raise InvalidParameterValueException(f"Invalid {field}: {value!r}")
        condition.setdefault(op, {})[key] = value
    with deps.sessions.begin() as session:
        fn, qual = _target(deps, session, account_id, function_name, qualifier, lock=True)
        revision = body.get("RevisionId")
        if revision is not None:
            common.check_revision(fn.revision_id, revision)
        statement: dict[str, Any] = {
            "Sid": sid, "Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": arns.function_arn(deps.settings.region, account_id, fn.name, qual or None),
        }
        if condition:
            statement["Condition"] = condition
        existing = security.policy_statements(session, fn.id, qual)
        if len(_document([*(s.statement for s in existing), statement])) > MAX_POLICY_BYTES:
            raise PolicyLengthExceededException("The final policy size is bigger than the limit (20 KB).")
        if not queries.add_unique(session, PolicyStatement(function_id=fn.id, qualifier=qual, sid=sid,
                                                           statement=statement)):
            raise ResourceConflictException(f"The statement id ({sid}) provided already exists. "
                                            "Please provide a new statement id, or remove the existing statement.")
    return json.dumps(statement)


def _document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements})


def get_policy(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> tuple[str, str]:
    """(policy document as a JSON string, RevisionId); 404 when the resource has no policy."""
    with deps.sessions() as session:
        fn, qual = _target(deps, session, account_id, function_name, qualifier)
        rows = security.policy_statements(session, fn.id, qual)
        if not rows:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return _document([r.statement for r in rows]), fn.revision_id


def remove_permission(deps: Deps, account_id: str, function_name: str, qualifier: str | None, sid: str,
                      revision_id: str | None = None) -> None:
    with deps.sessions.begin() as session:
        fn, qual = _target(deps, session, account_id, function_name, qualifier, lock=True)
        common.check_revision(fn.revision_id, revision_id)
        for row in security.policy_statements(session, fn.id, qual):
            if row.sid == sid:
                queries.delete_obj(session, row)
                return
        raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")


def _principal_matches(stmt_principal: Any, principal: str) -> bool:
    if stmt_principal == "*":
        return True
    if not isinstance(stmt_principal, dict):
        return False
    if "Service" in stmt_principal:
        return stmt_principal["Service"] == principal
    granted = str(stmt_principal.get("AWS", ""))
    m = re.fullmatch(r"arn:aws:iam::(\d{12}):root", granted)
    if m:  # the whole account: its id, or any principal ARN inside it
        return principal == m.group(1) or f"::{m.group(1)}:" in principal
    return granted == principal


def _conditions_hold(condition: dict[str, dict[str, str]], source_arn: str | None,
                     source_account: str | None) -> bool:
    for op, pairs in condition.items():
        for key, expected in pairs.items():
            if key == "AWS:SourceArn":
                if source_arn is None or not fnmatch.fnmatchcase(source_arn, expected):
                    return False
            elif key == "AWS:SourceAccount":
                if source_account != expected:
                    return False
            elif op == "StringEquals" and key == "lambda:FunctionUrlAuthType":
                continue  # checked by the function URL itself
            else:
                return False
    return True


def is_allowed(deps: Deps, account_id: str, function_name: str, qualifier: str | None, *,
               principal: str | tuple[str, ...], action: str = "lambda:InvokeFunction",
               source_arn: str | None = None, source_account: str | None = None) -> bool:
    """Does ``account_id``'s function (or version/alias) policy grant ``principal`` the ``action``?

    ``principal`` is an account id, a principal ARN or a service principal (``events.lamina``...), or a
    tuple of them (any one will do). False when the function or qualifier does not exist. Triggers call
    this at fire time.
    """
    principals = (principal,) if isinstance(principal, str) else principal
    try:
        with deps.sessions() as session:
            fn = queries.get_function(session, account_id, function_name)
            if fn is None:
                return False
            quals = {"", _qualifier_key(qualifier)}
            statements = [r.statement for q in quals for r in security.policy_statements(session, fn.id, q)]
    except LambdaError:
        return False
    for st in statements:
        if st.get("Effect") != "Allow" or not any(_principal_matches(st.get("Principal"), p) for p in principals):
            continue
        if not fnmatch.fnmatchcase(action, str(st.get("Action"))):
            continue
        if _conditions_hold(st.get("Condition") or {}, source_arn, source_account):
            return True
    return False


# -- the grants triggers need (see the module docstring)

SCHEDULE_PRINCIPALS = ("events.lamina", "scheduler.lamina")
QUEUE_PRINCIPAL = "sqs.lamina"
PUBLIC_URL_SID = "FunctionURLAllowPublicAccess"


def grant_trigger(deps: Deps, account_id: str, function_name: str, qualifier: str | None, sid: str,
                  principal: str, *, action: str = "lambda:InvokeFunction", source_arn: str | None = None,
                  url_auth_type: str | None = None) -> None:
    """Add the statement a new trigger fires with; one already there under ``sid`` is kept."""
    body: dict[str, Any] = {"StatementId": sid, "Action": action, "Principal": principal}
    if source_arn is not None:
        body["SourceArn"] = source_arn
    if url_auth_type is not None:
        body["FunctionUrlAuthType"] = url_auth_type
    try:
        add_permission(deps, account_id, function_name, qualifier, body)
    except ResourceConflictException:
        pass


def revoke_trigger(deps: Deps, account_id: str, function_name: str, qualifier: str | None, sid: str) -> None:
    """Remove a trigger's statement when the trigger goes (nothing to do if it is gone already)."""
    try:
        remove_permission(deps, account_id, function_name, qualifier, sid)
    except ResourceNotFoundException:
        pass
