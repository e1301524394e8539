"""Put (replace) / Update (merge) / Get / Delete / List FunctionEventInvokeConfig."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.services.events import event_invoke

bp = context.blueprint("event_invoke")
CONFIG = "/2019-09-25/functions/<function_name>/event-invoke-config"


@bp.put(CONFIG)
def put_function_event_invoke_config(function_name: str) -> ResponseReturnValue:
    rec = event_invoke.put(context.deps(), context.account_id(), function_name, context.qualifier(),
                           shapes.event_invoke_input(context.body()))
    return shapes.event_invoke_config(rec)


@bp.post(CONFIG)
def update_function_event_invoke_config(function_name: str) -> ResponseReturnValue:
    rec = event_invoke.update(context.deps(), context.account_id(), function_name, context.qualifier(),
                              shapes.event_invoke_input(context.body()))
    return shapes.event_invoke_config(rec)


@bp.get(CONFIG)
def get_function_event_invoke_config(function_name: str) -> ResponseReturnValue:
    rec = event_invoke.get(context.deps(), context.account_id(), function_name, context.qualifier())
    return shapes.event_invoke_config(rec)


@bp.delete(CONFIG)
def delete_function_event_invoke_config(function_name: str) -> ResponseReturnValue:
    event_invoke.delete(context.deps(), context.account_id(), function_name, context.qualifier())
    return "", 204


@bp.get(CONFIG + "/list")
def list_function_event_invoke_configs(function_name: str) -> ResponseReturnValue:
    page = event_invoke.list_configs(
        context.deps(), context.account_id(), function_name, marker=request.args.get("Marker"),
        max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("FunctionEventInvokeConfigs", page, shapes.event_invoke_config)
