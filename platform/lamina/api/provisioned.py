"""Put / Get / List / DeleteProvisionedConcurrencyConfig."""

from __future__ import annotations

from flask import current_app, request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.api.invoke import invoker_of
from lamina.errors import InvalidParameterValueException
from lamina.services.functions import provisioned

bp = context.blueprint("provisioned")
PATH = "/2019-09-30/functions/<function_name>/provisioned-concurrency"


@bp.put(PATH)
def put_provisioned_concurrency_config(function_name: str) -> ResponseReturnValue:
    requested = shapes.Reader(context.body()).integer("ProvisionedConcurrentExecutions", required=True)
    assert requested is not None
    account = context.account_id()
    record, name, qualifier = provisioned.put(context.deps(), account, function_name, context.qualifier(), requested)
    invoker_of(current_app).provision_later(account, name, qualifier, requested)
    return shapes.provisioned_config(record, listing=False), 202


@bp.get(PATH)
def get_or_list_provisioned_concurrency_configs(function_name: str) -> ResponseReturnValue:
    if request.args.get("List") is not None:
        if request.args.get("List") != "ALL":
            raise InvalidParameterValueException("List must be ALL")
        page = provisioned.list_configs(context.deps(), context.account_id(), function_name,
                                        marker=request.args.get("Marker"),
                                        max_items=shapes.query_int(request.args, "MaxItems"))
        return shapes.page("ProvisionedConcurrencyConfigs", page,
                           lambda r: shapes.provisioned_config(r, listing=True))
    return shapes.provisioned_config(
        provisioned.get(context.deps(), context.account_id(), function_name, context.qualifier()), listing=False)


@bp.delete(PATH)
def delete_provisioned_concurrency_config(function_name: str) -> ResponseReturnValue:
    account = context.account_id()
    name, qualifier = provisioned.delete(context.deps(), account, function_name, context.qualifier())
    invoker_of(current_app).provision_later(account, name, qualifier, 0)
    return "", 204
