"""Wire shapes of the triggers: event source mappings and function URLs (Lambda's PascalCase), and
lamina's own schedules and queues (in the same style). Kept apart from ``shapes.py`` only so that the
control plane's module and this one can change independently."""

from __future__ import annotations

from typing import Any

from lamina.api.shapes import Reader, time_str, without_none
from lamina.services.queues.queues import Message, QueueRecord
from lamina.services.triggers.event_sources import MappingInput, MappingRecord
from lamina.services.triggers.schedules import ScheduleRecord
from lamina.services.triggers.triggers import Triggers
from lamina.services.triggers.urls import UrlRecord


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


def mapping(rec: MappingRecord) -> dict[str, Any]:
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


def url_config(rec: UrlRecord, with_modified: bool = True) -> dict[str, Any]:
    return without_none({
        "FunctionUrl": rec.function_url,
        "FunctionArn": rec.function_arn,
        "AuthType": rec.auth_type,
        "Cors": rec.cors,
        "CreationTime": time_str(rec.creation_time),
        "LastModifiedTime": time_str(rec.last_modified) if with_modified else None,
        "InvokeMode": rec.invoke_mode,
    })


def schedule(rec: ScheduleRecord) -> dict[str, Any]:
    return without_none({
        "Name": rec.name,
        "Arn": rec.arn,
        "ScheduleExpression": rec.expression,
        "State": "ENABLED" if rec.enabled else "DISABLED",
        "FunctionArn": rec.function_arn,
        "Description": rec.description,
        "CreationTime": time_str(rec.created),
        "LastModified": time_str(rec.last_modified),
        "Input": rec.payload,
        "NextFireTime": time_str(rec.next_fire) if rec.next_fire is not None else None,
    })


def queue(rec: QueueRecord) -> dict[str, Any]:
    return without_none({
        "QueueName": rec.name,
        "QueueArn": rec.arn,
        "VisibilityTimeout": rec.visibility_timeout_s,
        "ApproximateNumberOfMessages": rec.visible,
        "ApproximateNumberOfMessagesNotVisible": rec.not_visible,
        "CreatedTimestamp": int(rec.created),
        "MaxReceiveCount": rec.max_receive_count,
        "DeadLetterQueueArn": rec.arn.rsplit(":", 1)[0] + ":" + rec.dead_letter if rec.dead_letter else None,
    })


def message(msg: Message) -> dict[str, Any]:
    return {
        "MessageId": msg.message_id,
        "ReceiptHandle": msg.receipt_handle,
        "Body": msg.body,
        "MD5OfBody": msg.md5,
        "Attributes": {
            "ApproximateReceiveCount": str(msg.receive_count),
            "SentTimestamp": str(msg.sent_ms),
            "ApproximateFirstReceiveTimestamp": str(msg.first_receive_ms),
        },
    }


def triggers(t: Triggers) -> dict[str, Any]:
    """GetFunction's lamina extension: the function's triggers (boto3 ignores members it does not model)."""
    return {
        "Schedules": [schedule(s) for s in t.schedules],
        "EventSourceMappings": [mapping(m) for m in t.event_source_mappings],
        "FunctionUrlConfigs": [url_config(u) for u in t.urls],
    }
