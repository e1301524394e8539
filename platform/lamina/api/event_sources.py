"""Event source mappings: Create / Get / List / Update / Delete at Lambda's paths (202 for changes)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.api import trigger_shapes as ts
from lamina.services.triggers import event_sources

bp = context.blueprint("event_sources")
BASE = "/2015-03-31/event-source-mappings"


@bp.post(BASE)
@bp.post(BASE + "/")
def create_event_source_mapping() -> ResponseReturnValue:
    rec = event_sources.create(context.deps(), context.account_id(), ts.mapping_input(context.body()))
    return ts.mapping(rec), 202


@bp.get(BASE)
@bp.get(BASE + "/")
def list_event_source_mappings() -> ResponseReturnValue:
    page = event_sources.list_mappings(
        context.deps(), context.account_id(), function_name=request.args.get("FunctionName") or None,
        event_source_arn=request.args.get("EventSourceArn") or None, marker=request.args.get("Marker") or None,
        max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("EventSourceMappings", page, ts.mapping)


@bp.get(BASE + "/<mapping_uuid>")
def get_event_source_mapping(mapping_uuid: str) -> ResponseReturnValue:
    return ts.mapping(event_sources.get(context.deps(), context.account_id(), mapping_uuid))


@bp.put(BASE + "/<mapping_uuid>")
def update_event_source_mapping(mapping_uuid: str) -> ResponseReturnValue:
    rec = event_sources.update(context.deps(), context.account_id(), mapping_uuid, ts.mapping_input(context.body()))
    return ts.mapping(rec), 202


@bp.delete(BASE + "/<mapping_uuid>")
def delete_event_source_mapping(mapping_uuid: str) -> ResponseReturnValue:
    return ts.mapping(event_sources.delete(context.deps(), context.account_id(), mapping_uuid)), 202
