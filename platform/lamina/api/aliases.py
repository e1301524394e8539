"""CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.services.functions import aliases

bp = context.blueprint("aliases")
ALIASES = "/2015-03-31/functions/<function_name>/aliases"


@bp.post(ALIASES)
def create_alias(function_name: str) -> ResponseReturnValue:
    r = shapes.Reader(context.body())
    rec = aliases.create_alias(
        context.deps(), context.account_id(), function_name, name=r.string("Name", required=True) or "",
        function_version=r.string("FunctionVersion", required=True) or "",
        description=r.string("Description") or "", routing=shapes.routing_input(r),
    )
    return shapes.alias_configuration(rec), 201


@bp.get(ALIASES)
def list_aliases(function_name: str) -> ResponseReturnValue:
    page = aliases.list_aliases(
        context.deps(), context.account_id(), function_name,
        function_version=request.args.get("FunctionVersion") or None, marker=request.args.get("Marker"),
        max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("Aliases", page, shapes.alias_configuration)


@bp.get(ALIASES + "/<name>")
def get_alias(function_name: str, name: str) -> ResponseReturnValue:
    return shapes.alias_configuration(aliases.get_alias(context.deps(), context.account_id(), function_name, name))


@bp.put(ALIASES + "/<name>")
def update_alias(function_name: str, name: str) -> ResponseReturnValue:
    r = shapes.Reader(context.body())
    rec = aliases.update_alias(
        context.deps(), context.account_id(), function_name, name,
        function_version=r.string("FunctionVersion"), description=r.string("Description"),
        routing=shapes.routing_input(r), revision_id=r.string("RevisionId"),
    )
    return shapes.alias_configuration(rec)


@bp.delete(ALIASES + "/<name>")
def delete_alias(function_name: str, name: str) -> ResponseReturnValue:
    aliases.delete_alias(context.deps(), context.account_id(), function_name, name)
    return "", 204
