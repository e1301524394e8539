"""Event source mappings: Create / Get / List / Update / Delete at Lambda's paths (202 for changes)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.api.shapes import Reader
from lamina.services.triggers import event_sources
from lamina.services.triggers.event_sources import MappingInput, MappingRecord

bp = context.blueprint("event_sources")
BASE = "/2015-03-31/event-source-mappings"


@bp.post(BASE)
@bp.post(BASE + "/")
def create_event_source_mapping() -> ResponseReturnValue:
    rec = event_sources.create(context.deps(), context.account_id(), mapping_input(context.body()))
    return mapping_shape(rec), 202


@bp.get(BASE)
@bp.get(BASE + "/")
def list_event_source_mappings() -> ResponseReturnValue:
    page = event_sources.list_mappings(
        context.deps(), context.account_id(), function_name=request.args.get("FunctionName") or None,
        event_source_arn=request.args.get("EventSourceArn") or None, marker=request.args.get("Marker") or None,
        max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("EventSourceMappings", page, mapping_shape)


@bp.get(BASE + "/<mapping_uuid>")
def get_event_source_mapping(mapping_uuid: str) -> ResponseReturnValue:
    return mapping_shape(event_sources.get(context.deps(), context.account_id(), mapping_uuid))


@bp.put(BASE + "/<mapping_uuid>")
def update_event_source_mapping(mapping_uuid: str) -> ResponseReturnValue:
    rec = event_sources.update(context.deps(), context.account_id(), mapping_uuid, mapping_input(context.body()))
    return mapping_shape(rec), 202


@bp.delete(BASE + "/<mapping_uuid>")
def delete_event_source_mapping(mapping_uuid: str) -> ResponseReturnValue:
    return mapping_shape(event_sources.delete(context.deps(), context.account_id(), mapping_uuid)), 202


# -- wire shapes


def mapping_input(body: dict[str, Any]) -> MappingInput:
    r = Reader(body)
    return MappingInput(
        function_name=r.string("FunctionName"),
        event_source_arn=r.string("EventSourceArn"),
        batch_size=r.integer("BatchSize"),
        maximum_batching_window_s=r.integer("MaximumBatchingWindowInSeconds"),
        enabled=r.boolean("Enabled"),
        function_response_types=r.strings("FunctionResponseTypes"),
    )


def mapping_shape(rec: MappingRecord) -> dict[str, Any]:
    return {
        "UUID": rec.uuid,
        "BatchSize": rec.batch_size,
        "MaximumBatchingWindowInSeconds": rec.maximum_batching_window_s,
        "EventSourceArn": rec.event_source_arn,
        "FunctionArn": rec.function_arn,
        "LastModified": rec.last_modified.timestamp(),
        "State": rec.state,
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": rec.function_response_types,
        "EventSourceMappingArn": rec.arn,
    }
