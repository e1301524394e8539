"""The Kinesis Data Streams API (2013-12-02, AWS JSON 1.1, ``X-Amz-Target: Kinesis_20131202.<Operation>``)
on lamina's streams (``lamina.services.streams``), so boto3's and the JavaScript SDK's Kinesis clients work
unchanged.

A stream is named by ``StreamName`` or ``StreamARN``; a role session is authorized as
``kinesis:<Operation>`` on the stream's ARN, and another account's stream is reachable (by its ARN) only
as far as that stream's resource policy (PutResourcePolicy) allows. Shard splitting and merging,
enhanced fan-out consumers and server-side encryption are refused with InvalidArgumentException, never
accepted and ignored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from flask import Response, g

from lamina.api import aws_json, context
from lamina.api.auth import authorize
from lamina.api.shapes import Reader, without_none
from lamina.errors import AccessDeniedException, LambdaError
from lamina.services.iam import resource_policies
from lamina.services.streams import streams
from lamina.services.streams.errors import InvalidArgument, StreamNotFound
from lamina.services.streams.streams import StreamRecord


def error(err: LambdaError) -> Response:
    kind = getattr(err, "kinesis_type", None)
    if kind is None:
        kind = ("AccessDeniedException" if isinstance(err, AccessDeniedException) else
                "InvalidArgumentException" if err.status == 400 else
                "LimitExceededException" if err.status == 429 else
                "InternalFailureException" if err.status >= 500 else err.error_type)
    status = 500 if err.status >= 500 else 400
    return aws_json.answer(aws_json.KINESIS, {"__type": kind, "message": err.message}, status)


def _stream(r: Reader, action: str) -> StreamRecord:
    """The stream the body names (StreamName or StreamARN), once the caller may do ``kinesis:<action>``."""
    arn = r.string("StreamARN")
    name = r.string("StreamName")
    if arn:
        account, name = streams.parse_arn(context.deps(), arn)
    elif name:
        account = g.account_id
    else:
        raise InvalidArgument("Either StreamName or StreamARN must be provided.")
    return _authorized(account, streams.check_name(name), action)


def _authorized(account: str, name: str, action: str) -> StreamRecord:
    """Stream ``name`` of ``account`` once the caller may do ``kinesis:<action>`` on it: by its role's
    statements, and for another account's stream by that stream's resource policy."""
    target = streams.stream_arn(context.deps().settings.region, account, name)
    authorize(f"kinesis:{action}", target)
    stream = streams.load(context.deps(), account, name)
    if account != g.account_id and not resource_policies.allows(stream.policy, g.principal, f"kinesis:{action}",
                                                                target):
        raise AccessDeniedException(f"User: {g.principal.arn} is not authorized to perform: kinesis:{action} on "
                                    f"resource: {target}")
    return stream


def _data(r: Reader) -> bytes:
    raw = r.raw("Data")
    if not isinstance(raw, str):
        raise InvalidArgument("Data is required (base64).")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("Data must be base64.") from None


def shard_shape(shard: streams.Shard) -> dict[str, Any]:
    return {"ShardId": shard.shard_id,
            "HashKeyRange": {"StartingHashKey": str(shard.start_hash), "EndingHashKey": str(shard.end_hash)},
            "SequenceNumberRange": {"StartingSequenceNumber": shard.starting_sequence}}


def _summary(stream: StreamRecord) -> dict[str, Any]:
    return {"StreamName": stream.name, "StreamARN": stream.arn, "StreamStatus": stream.status,
            "StreamModeDetails": {"StreamMode": stream.mode}, "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": stream.created, "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE"}


# -- operations


def _create_stream(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    name = streams.check_name(r.string("StreamName", required=True))
    mode = (r.obj("StreamModeDetails") or Reader({})).string("StreamMode") or "PROVISIONED"
    authorize("kinesis:CreateStream", streams.stream_arn(context.deps().settings.region, g.account_id, name))
    streams.create(context.deps(), g.account_id, name, r.integer("ShardCount"), mode, r.string_map("Tags"))
    return {}


def _delete_stream(body: dict[str, Any]) -> dict[str, Any]:
    stream = _stream(Reader(body), "DeleteStream")
    streams.delete(context.deps(), stream.account_id, stream.name)
    return {}


def _describe_stream(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _stream(r, "DescribeStream")
    limit = r.integer("Limit") or 100
    start = r.string("ExclusiveStartShardId") or ""
    shards = [s for s in stream.shards if s.shard_id > start]
    return {"StreamDescription": {**_summary(stream), "Shards": [shard_shape(s) for s in shards[:limit]],
                                  "HasMoreShards": len(shards) > limit}}


def _describe_stream_summary(body: dict[str, Any]) -> dict[str, Any]:
    stream = _stream(Reader(body), "DescribeStreamSummary")
    return {"StreamDescriptionSummary": {**_summary(stream), "OpenShardCount": len(stream.shards),
                                         "ConsumerCount": 0}}


def _list_streams(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    authorize("kinesis:ListStreams", streams.stream_arn(context.deps().settings.region, g.account_id, "*"))
    limit = r.integer("Limit") or 100
    if not 1 <= limit <= 10000:
        raise InvalidArgument("Limit must be between 1 and 10000.")
    start = r.string("ExclusiveStartStreamName") or r.string("NextToken") or ""
    found = [s for s in streams.list_streams(context.deps(), g.account_id) if s.name > start]
    page = found[:limit]
    return without_none({
        "StreamNames": [s.name for s in page], "HasMoreStreams": len(found) > limit,
        "StreamSummaries": [{"StreamName": s.name, "StreamARN": s.arn, "StreamStatus": s.status,
                             "StreamModeDetails": {"StreamMode": s.mode},
                             "StreamCreationTimestamp": s.created} for s in page],
        "NextToken": page[-1].name if len(found) > limit else None,
    })


def _list_shards(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    token = r.string("NextToken")
    if token:
        name, _, start = token.partition("|")
        # botocore's paginator repeats StreamName beside NextToken: allowed when they agree.
        if r.string("StreamName") not in (None, name) or r.string("StreamARN"):
            raise InvalidArgument("NextToken and StreamName cannot be provided together.")
        r = Reader({"StreamName": name})
    else:
        start = r.string("ExclusiveStartShardId") or ""
    stream = _stream(r, "ListShards")
    limit = Reader(body).integer("MaxResults") or 1000
    if not 1 <= limit <= 10000:
        raise InvalidArgument("MaxResults must be between 1 and 10000.")
    shards = [s for s in stream.shards if s.shard_id > start]
    page = shards[:limit]
    return without_none({"Shards": [shard_shape(s) for s in page],
                         "NextToken": f"{stream.name}|{page[-1].shard_id}" if len(shards) > limit else None})


def _put_record(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _stream(r, "PutRecord")
    [put] = streams.put_records(context.deps(), stream, [(r.string("PartitionKey", required=True) or "", _data(r),
                                                          r.string("ExplicitHashKey"))])
    return {"ShardId": put.shard_id, "SequenceNumber": put.sequence_number, "EncryptionType": "NONE"}


def _put_records(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _stream(r, "PutRecords")
    entries = r.raw("Records")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidArgument("Records must be a list of records.")
    readers = [Reader(e, f"Records[{i}]") for i, e in enumerate(entries)]
    puts = streams.put_records(context.deps(), stream, [
        (er.string("PartitionKey", required=True) or "", _data(er), er.string("ExplicitHashKey")) for er in readers])
    return {"FailedRecordCount": 0, "EncryptionType": "NONE",
            "Records": [{"SequenceNumber": p.sequence_number, "ShardId": p.shard_id} for p in puts]}


def _get_shard_iterator(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _stream(r, "GetShardIterator")
    stamp = r.raw("Timestamp")
    if stamp is not None and not isinstance(stamp, int | float):
        raise InvalidArgument("Timestamp must be a number of seconds since the epoch.")
    token = streams.shard_iterator(context.deps(), stream, r.string("ShardId", required=True) or "",
                                   r.string("ShardIteratorType", required=True) or "",
                                   r.string("StartingSequenceNumber"), stamp)
    return {"ShardIterator": token}


def _get_records(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    token = r.string("ShardIterator", required=True) or ""
    account, name = streams.iterator_stream(context.deps(), token)
    _authorized(account, name, "GetRecords")
    records, following, behind = streams.get_records(context.deps(), token, r.integer("Limit") or 10000)
    return {"Records": [{"SequenceNumber": rec.sequence_number, "ApproximateArrivalTimestamp": rec.arrival_ms / 1000,
                         "Data": base64.b64encode(rec.data).decode(), "PartitionKey": rec.partition_key}
                        for rec in records],
            "NextShardIterator": following, "MillisBehindLatest": behind}


def _retention(increase: bool) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        r = Reader(body)
        stream = _stream(r, "IncreaseStreamRetentionPeriod" if increase else "DecreaseStreamRetentionPeriod")
        streams.set_retention(context.deps(), stream.account_id, stream.name,
                              r.integer("RetentionPeriodHours", required=True) or 0, increase)
        return {}

    return change


def _add_tags(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _stream(r, "AddTagsToStream")
    streams.tag(context.deps(), stream.account_id, stream.name, r.string_map("Tags", required=True) or {})
    return {}


def _remove_tags(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _stream(r, "RemoveTagsFromStream")
    streams.untag(context.deps(), stream.account_id, stream.name, r.strings("TagKeys") or [])
    return {}


def _list_tags(body: dict[str, Any]) -> dict[str, Any]:
    stream = _stream(Reader(body), "ListTagsForStream")
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(stream.tags.items())], "HasMoreTags": False}


def _policy_target(r: Reader, action: str) -> StreamRecord:
    arn = r.string("ResourceARN", required=True) or ""
    account, name = streams.parse_arn(context.deps(), arn)
    stream = _authorized(account, name, action)
    if account != g.account_id:  # only the owner manages who else may read and write
        raise AccessDeniedException(f"User: {g.principal.arn} is not authorized to perform: kinesis:{action} on "
                                    f"resource: {arn}")
    return stream


def _put_resource_policy(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    stream = _policy_target(r, "PutResourcePolicy")
    policy = resource_policies.validate(r.string("Policy", required=True), "Policy")
    streams.set_policy(context.deps(), stream.account_id, stream.name, policy)
    return {}


def _get_resource_policy(body: dict[str, Any]) -> dict[str, Any]:
    stream = _policy_target(Reader(body), "GetResourcePolicy")
    return {"Policy": stream.policy or "{}"}


def _delete_resource_policy(body: dict[str, Any]) -> dict[str, Any]:
    stream = _policy_target(Reader(body), "DeleteResourcePolicy")
    if stream.policy is None:
        raise StreamNotFound(f"No resource policy found for resource {stream.arn}.")
    streams.set_policy(context.deps(), stream.account_id, stream.name, None)
    return {}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "CreateStream": _create_stream, "DeleteStream": _delete_stream, "DescribeStream": _describe_stream,
    "DescribeStreamSummary": _describe_stream_summary, "ListStreams": _list_streams, "ListShards": _list_shards,
    "PutRecord": _put_record, "PutRecords": _put_records, "GetShardIterator": _get_shard_iterator,
    "GetRecords": _get_records, "IncreaseStreamRetentionPeriod": _retention(True),
    "DecreaseStreamRetentionPeriod": _retention(False), "AddTagsToStream": _add_tags,
    "RemoveTagsFromStream": _remove_tags, "ListTagsForStream": _list_tags,
    "PutResourcePolicy": _put_resource_policy, "GetResourcePolicy": _get_resource_policy,
    "DeleteResourcePolicy": _delete_resource_policy,
}


def handle(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    run = OPERATIONS.get(operation)
    if run is None:
        raise InvalidArgument(f"lamina does not support the Kinesis operation {operation} (no resharding, "
                              "enhanced fan-out or stream encryption).")
    return run(body)
