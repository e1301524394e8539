"""Event source mappings: Create / Get / List / Update / Delete at Lambda's paths (202 for changes)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.api.shapes import Reader, without_none
from lamina.errors import InvalidParameterValueException
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


# Members lamina implements; any other member of Lambda's request is refused by name, never dropped.
_MEMBERS = {"FunctionName", "EventSourceArn", "BatchSize", "MaximumBatchingWindowInSeconds", "Enabled",
            "FunctionResponseTypes", "StartingPosition", "StartingPositionTimestamp", "ParallelizationFactor",
            "BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "DestinationConfig",
            "ScalingConfig", "FilterCriteria", "TumblingWindowInSeconds"}


def mapping_input(body: dict[str, Any]) -> MappingInput:
    unknown = sorted(set(body) - _MEMBERS)
    if unknown:
        raise InvalidParameterValueException(
            f"{unknown[0]} is not supported by lamina's event source mappings (it polls SQS queues and Kinesis "
            "streams)."
        )
    r = Reader(body)
    given: dict[str, Any] = {}
    for member, read in (("StartingPosition", r.string), ("ParallelizationFactor", r.integer),
                         ("BisectBatchOnFunctionError", r.boolean), ("MaximumRetryAttempts", r.integer),
                         ("MaximumRecordAgeInSeconds", r.integer), ("TumblingWindowInSeconds", r.integer)):
        if body.get(member) is not None:
            given[member] = read(member)
    stamp = body.get("StartingPositionTimestamp")
    if stamp is not None:
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            raise InvalidParameterValueException("StartingPositionTimestamp must be seconds since the epoch.")
        given["StartingPositionTimestamp"] = float(stamp)
    for member in ("DestinationConfig", "ScalingConfig", "FilterCriteria"):
        if member in body:
            obj = body[member]
            if obj is not None and not isinstance(obj, dict):
                raise InvalidParameterValueException(f"{member} must be an object.")
            given[member] = obj
    return MappingInput(
        function_name=r.string("FunctionName"),
        event_source_arn=r.string("EventSourceArn"),
        batch_size=r.integer("BatchSize"),
        maximum_batching_window_s=r.integer("MaximumBatchingWindowInSeconds"),
        enabled=r.boolean("Enabled"),
        function_response_types=r.strings("FunctionResponseTypes"),
        given=given,
    )


def mapping_shape(rec: MappingRecord) -> dict[str, Any]:
    opts = rec.options
    kind = rec.source_kind
    extra: dict[str, Any] = {}
    if kind == "kinesis":
        extra = {
            "StartingPosition": opts.starting_position,
            "StartingPositionTimestamp": opts.starting_position_timestamp,
            "ParallelizationFactor": opts.parallelization_factor,
            "BisectBatchOnFunctionError": opts.bisect_batch_on_function_error,
            "MaximumRetryAttempts": opts.maximum_retry_attempts,
            "MaximumRecordAgeInSeconds": opts.maximum_record_age_s,
            "TumblingWindowInSeconds": 0,
            "DestinationConfig": {"OnFailure": {"Destination": opts.on_failure} if opts.on_failure else {}},
        }
    elif opts.maximum_concurrency is not None:
        extra["ScalingConfig"] = {"MaximumConcurrency": opts.maximum_concurrency}
    if opts.filter_criteria:
        extra["FilterCriteria"] = opts.filter_criteria
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
        **without_none(extra),
    }
