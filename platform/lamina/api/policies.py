"""Resource policy (§7.8): AddPermission, GetPolicy, RemovePermission on functions, versions, aliases."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.services.iam import policies

bp = context.blueprint("policies")
POLICY = "/2015-03-31/functions/<function_name>/policy"


@bp.post(POLICY)
def add_permission(function_name: str) -> ResponseReturnValue:
    r = shapes.Reader(context.body())
    body = {key: r.string(key, required=key in ("StatementId", "Action", "Principal"))
            for key in ("StatementId", "Action", "Principal", "SourceArn", "SourceAccount", "PrincipalOrgID",
                        "EventSourceToken", "FunctionUrlAuthType", "RevisionId")}
    statement = policies.add_permission(context.deps(), context.account_id(), function_name,
                                        context.qualifier(), body)
    return {"Statement": statement}, 201


@bp.get(POLICY)
def get_policy(function_name: str) -> ResponseReturnValue:
    doc, revision = policies.get_policy(context.deps(), context.account_id(), function_name, context.qualifier())
    return {"Policy": doc, "RevisionId": revision}


@bp.delete(POLICY + "/<statement_id>")
def remove_permission(function_name: str, statement_id: str) -> ResponseReturnValue:
    policies.remove_permission(context.deps(), context.account_id(), function_name, context.qualifier(),
                               statement_id, request.args.get("RevisionId") or None)
    return "", 204
