"""IAM's query protocol (``Action=...&Version=2010-05-08`` forms at ``/``, SigV4 service ``iam``, XML answers),
what boto3's and the aws CLI's ``iam`` clients speak; and ``/lamina/v1/accounts`` for the platform's
administrators. The work is ``lamina.services.iam.directory``'s.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from flask import Request, Response, jsonify
from flask.typing import ResponseReturnValue

from lamina.api import auth, context, sqs_query
from lamina.errors import AccessDeniedException, LambdaError
from lamina.services.iam import directory as d
from lamina.services.iam import iam as iam_service

VERSION = "2010-05-08"
XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

bp = context.blueprint("accounts")


def speaks_iam(req: Request) -> bool:
    """Whether ``req`` is an IAM query-protocol request (a query request of IAM's API version)."""
    return req.path == "/" and sqs_query.speaks_query(req) and _params(req).get("Version") == VERSION


def _params(req: Request) -> dict[str, str]:
    params = dict(req.args.items())
    if req.method == "POST":
        params.update(req.form.items())
    return params


# Each operation: (parameters -> result dict). ``c`` is the calling administrator, ``p`` the parameters.
_Op = Any
_OPERATIONS: dict[str, _Op] = {
    "CreateUser": lambda deps, c, p: {"User": d.create_user(deps, c, p.get("UserName", ""))},
    "GetUser": lambda deps, c, p: {"User": d.get_user(deps, c, p.get("UserName"))},
    "ListUsers": lambda deps, c, p: {"Users": d.list_users(deps, c), "IsTruncated": False},
    "DeleteUser": lambda deps, c, p: d.delete_user(deps, c, p.get("UserName", "")),
    "AttachUserPolicy": lambda deps, c, p: d.set_admin(deps, c, p.get("UserName", ""), p.get("PolicyArn", ""), True),
    "DetachUserPolicy": lambda deps, c, p: d.set_admin(deps, c, p.get("UserName", ""), p.get("PolicyArn", ""), False),
    "ListAttachedUserPolicies": lambda deps, c, p: {
        "AttachedPolicies": d.attached_policies(deps, c, p.get("UserName", "")), "IsTruncated": False},
    "PutUserPolicy": lambda deps, c, p: d.put_policy(deps, c, d.USER, p.get("UserName", ""),
                                                     p.get("PolicyName", ""), p.get("PolicyDocument")),
    "GetUserPolicy": lambda deps, c, p: {
        "UserName": p.get("UserName", ""), "PolicyName": p.get("PolicyName", ""),
        "PolicyDocument": quote(str(d.policy(deps, c, d.USER, p.get("UserName", ""), p.get("PolicyName", ""))))},
    "ListUserPolicies": lambda deps, c, p: {
        "PolicyNames": d.policy(deps, c, d.USER, p.get("UserName", ""), None), "IsTruncated": False},
    "DeleteUserPolicy": lambda deps, c, p: d.delete_policy(deps, c, d.USER, p.get("UserName", ""),
                                                           p.get("PolicyName", "")),
    "CreateAccessKey": lambda deps, c, p: {"AccessKey": d.create_access_key(deps, c, p.get("UserName"))},
    "ListAccessKeys": lambda deps, c, p: {
        "AccessKeyMetadata": d.list_access_keys(deps, c, p.get("UserName")), "IsTruncated": False},
    "UpdateAccessKey": lambda deps, c, p: d.update_access_key(deps, c, p.get("UserName"), p.get("AccessKeyId", ""),
                                                              p.get("Status", "")),
    "DeleteAccessKey": lambda deps, c, p: d.delete_access_key(deps, c, p.get("UserName"), p.get("AccessKeyId", "")),
    "CreateRole": lambda deps, c, p: {"Role": d.create_role(deps, c, p.get("RoleName", ""),
                                                            p.get("AssumeRolePolicyDocument"))},
    "GetRole": lambda deps, c, p: {"Role": d.get_role(deps, c, p.get("RoleName", ""))},
    "ListRoles": lambda deps, c, p: {"Roles": d.list_roles(deps, c), "IsTruncated": False},
    "DeleteRole": lambda deps, c, p: d.delete_role(deps, c, p.get("RoleName", "")),
    "PutRolePolicy": lambda deps, c, p: d.put_policy(deps, c, d.ROLE, p.get("RoleName", ""),
                                                     p.get("PolicyName", ""), p.get("PolicyDocument")),
    "GetRolePolicy": lambda deps, c, p: {
        "RoleName": p.get("RoleName", ""), "PolicyName": p.get("PolicyName", ""),
        "PolicyDocument": quote(str(d.policy(deps, c, d.ROLE, p.get("RoleName", ""), p.get("PolicyName", ""))))},
    "ListRolePolicies": lambda deps, c, p: {
        "PolicyNames": d.policy(deps, c, d.ROLE, p.get("RoleName", ""), None), "IsTruncated": False},
    "DeleteRolePolicy": lambda deps, c, p: d.delete_policy(deps, c, d.ROLE, p.get("RoleName", ""),
                                                           p.get("PolicyName", "")),
}
# Parameters IAM defines that lamina has no use for are refused, not dropped, unless harmless.
_IGNORED = {"Action", "Version", "Path", "MaxItems", "Marker"}


def _xml(value: Any, name: str) -> str:
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(v, k) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return f"<{name}>" + "".join(_xml(v, "member") for v in value) + f"</{name}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def answer(action: str, result: dict[str, Any] | None, request_id: str) -> Response:
    inner = "".join(_xml(v, k) for k, v in (result or {}).items())
    body = (f'<?xml version="1.0"?><{action}Response xmlns="{XMLNS}"><{action}Result>{inner}</{action}Result>'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
    return Response(body, status=200, content_type="text/xml")


def error(err: LambdaError, request_id: str) -> Response:
    if isinstance(err, d.IamError):
        code, status = err.iam_code, err.status
    elif isinstance(err, AccessDeniedException) or err.status == 403:
        code, status = ("AccessDenied" if isinstance(err, AccessDeniedException) else err.error_type), 403
    elif err.status == 429:
        code, status = "Throttling", 400
    elif err.status < 500:
        code, status = "InvalidInput", 400
    else:
        code, status = "ServiceFailure", 500
    kind = "Receiver" if status >= 500 else "Sender"
    body = (f'<?xml version="1.0"?><ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{escape(code)}'
            f"</Code><Message>{escape(err.message)}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>")
    return Response(body, status=status, content_type="text/xml")


def handle(req: Request, request_id: str) -> Response:
    params = _params(req)
    action = params.get("Action", "")
    try:
        op = _OPERATIONS.get(action)
        if op is None:
            raise d.IamError("InvalidAction", f"lamina's IAM has no operation {action!r}; it serves "
                                              f"{', '.join(sorted(_OPERATIONS))}.")
        unknown = sorted(k for k in params if k not in _IGNORED and k not in _KNOWN.get(action, ()))
        if unknown:
            raise d.IamError("InvalidInput", f"{action} has no parameter {', '.join(unknown)} in lamina.")
        if params.get("Path", "/") != "/":
            raise d.IamError("InvalidInput", "lamina keeps every user and role at path /.")
        _check_values(params)
        caller = d.admin_of_account(auth.current_principal())
        return answer(action, op(context.deps(), caller, params), request_id)
    except LambdaError as err:
        return error(err, request_id)


_NAMES = {"UserName": "userName", "RoleName": "roleName", "PolicyName": "policyName"}
_KEY_ID_RE = re.compile(r"[A-Z0-9]{16,128}")


def _check_values(params: dict[str, str]) -> None:
    """IAM's constraints on what reaches a lookup: names, key ids, no NUL anywhere."""
    if any("\0" in v for v in params.values()):
        raise d.IamError("InvalidInput", "Parameters must not contain NUL characters.")
    for key, field in _NAMES.items():
        if key in params and not iam_service.NAME_RE.fullmatch(params[key]):
            raise d.IamError("ValidationError", f"1 validation error detected: Value {params[key][:64]!r} at "
                                                f"'{field}' failed to satisfy constraint: 1-64 of [a-zA-Z0-9_+=,.@-]")
    if "AccessKeyId" in params and not _KEY_ID_RE.fullmatch(params["AccessKeyId"]):
        raise d.IamError("ValidationError", "1 validation error detected: Value at 'accessKeyId' failed to satisfy "
                                            "constraint: Member must satisfy regular expression pattern: [\\w]+")


_KNOWN: dict[str, tuple[str, ...]] = {
    "CreateUser": ("UserName",), "GetUser": ("UserName",), "ListUsers": (), "DeleteUser": ("UserName",),
    "AttachUserPolicy": ("UserName", "PolicyArn"), "DetachUserPolicy": ("UserName", "PolicyArn"),
    "ListAttachedUserPolicies": ("UserName",), "PutUserPolicy": ("UserName", "PolicyName", "PolicyDocument"),
    "GetUserPolicy": ("UserName", "PolicyName"), "ListUserPolicies": ("UserName",),
    "DeleteUserPolicy": ("UserName", "PolicyName"), "CreateAccessKey": ("UserName",), "ListAccessKeys": ("UserName",),
    "UpdateAccessKey": ("UserName", "AccessKeyId", "Status"), "DeleteAccessKey": ("UserName", "AccessKeyId"),
    "CreateRole": ("RoleName", "AssumeRolePolicyDocument"), "GetRole": ("RoleName",),
    "ListRoles": (), "DeleteRole": ("RoleName",), "PutRolePolicy": ("RoleName", "PolicyName", "PolicyDocument"),
    "GetRolePolicy": ("RoleName", "PolicyName"), "ListRolePolicies": ("RoleName",),
    "DeleteRolePolicy": ("RoleName", "PolicyName"),
}


# -- the platform's accounts (lamina's own REST shape: IAM has no accounts)


@bp.get("/lamina/v1/accounts")
def list_accounts() -> ResponseReturnValue:
    return jsonify({"Accounts": d.list_accounts(context.deps(), auth.current_principal())})


@bp.post("/lamina/v1/accounts")
def create_account() -> ResponseReturnValue:
    body = context.body()
    unknown = set(body) - {"AccountName", "AdminUserName"}
    if unknown or not isinstance(body.get("AccountName"), str) \
            or not isinstance(body.get("AdminUserName", "admin"), str):
        raise d.IamError("ValidationError", 'The body must be {"AccountName": "...", "AdminUserName": "admin"}')
    made = d.create_account(context.deps(), auth.current_principal(), body["AccountName"],
                            body.get("AdminUserName", "admin"))
    return jsonify(made), 201
