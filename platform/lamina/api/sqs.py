"""The SQS API (2012-11-05, AWS JSON 1.0 protocol, ``X-Amz-Target: AmazonSQS.<Operation>``) on lamina's
queues, so boto3's and the JavaScript SDK's SQS clients work unchanged.

A queue URL is ``<lamina>/<account>/<name>``. Every operation is authorized as ``sqs:<Operation>`` on
the queue's ARN for a role session (a function's credentials); a queue of another account is reachable
only when its ``Policy`` attribute allows the caller's account. Errors carry SQS's JSON type and, in the
``x-amzn-query-error`` header, its query-protocol code (``AWS.SimpleQueueService.NonExistentQueue``).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from flask import Response, g, request

from lamina.api import aws_json, context
from lamina.api.auth import authorize
from lamina.api.shapes import Reader, without_none
from lamina.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
)
from lamina.services.iam import resource_policies
from lamina.services.queues import attributes, messages, queues
from lamina.services.queues.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidAttributeName,
    InvalidBatchEntryId,
    InvalidParameterValue,
    MissingParameter,
    QueueDoesNotExist,
    QueueError,
    TooManyEntriesInBatchRequest,
    UnsupportedOperation,
)
from lamina.services.queues.messages import Message, Outgoing
from lamina.services.queues.queues import QueueRecord

_ENTRY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT_RE = re.compile(r"\d{12}")
MAX_BATCH_BYTES = 256 * 1024
_MESSAGE_SYSTEM_NAMES = {"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
                         "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
                         "DeadLetterQueueSourceArn"}
_QUEUE_ATTRIBUTE_NAMES = {"All", "Policy", "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod",
                          "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp",
                          "LastModifiedTimestamp", "QueueArn", "ApproximateNumberOfMessagesDelayed", "DelaySeconds",
                          "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication",
                          "DeduplicationScope", "FifoThroughputLimit", "SqsManagedSseEnabled",
                          "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "RedriveAllowPolicy"}


# -- errors


def error(err: LambdaError) -> Response:
    if isinstance(err, QueueError):
        sqs_type, code, fault = err.sqs_type, err.query_code, "Sender"
    elif isinstance(err, AccessDeniedException):
        sqs_type, code, fault = "AccessDeniedException", "AccessDenied", "Sender"
    elif isinstance(err, InvalidParameterValueException | InvalidRequestContentException):
        sqs_type, code, fault = "InvalidParameterValue", "InvalidParameterValue", "Sender"
    elif err.status == 429:
        sqs_type, code, fault = "RequestThrottled", "RequestThrottled", "Sender"
    elif err.status < 500:
        sqs_type, code, fault = err.error_type, err.error_type, "Sender"
    else:
        sqs_type, code, fault = "InternalError", "InternalError", "Receiver"
    status = 500 if fault == "Receiver" else (403 if isinstance(err, AccessDeniedException) or err.status == 403
                                              else 400)
    return aws_json.answer(aws_json.SQS, {"__type": f"com.amazonaws.sqs#{sqs_type}", "message": err.message},
                           status, {"x-amzn-query-error": f"{code};{fault}"})


# -- addressing and authorization


def queue_url(account_id: str, name: str) -> str:
    return f"{context.base_url()}/{account_id}/{name}"


def _locate(body: dict[str, Any]) -> tuple[str, str]:
    """(account, name) of the body's QueueUrl."""
    url = body.get("QueueUrl")
    if not isinstance(url, str) or not url:
        raise MissingParameter("The request must contain the parameter QueueUrl.")
    parts = [p for p in urllib.parse.urlsplit(url).path.split("/") if p]
    if len(parts) != 2 or not _ACCOUNT_RE.fullmatch(parts[0]) or not queues.NAME_RE.fullmatch(parts[1]):
        raise QueueDoesNotExist("The specified queue does not exist.")
    return parts[0], parts[1]


def _queue(body: dict[str, Any], action: str, with_counts: bool = False) -> QueueRecord:
    """The queue the body names, once the caller may do ``sqs:<action>`` on it."""
    account, name = _locate(body)
    arn = queues.queue_arn(context.deps().settings.region, account, name)
    authorize(f"sqs:{action}", arn)
    record = queues.load(context.deps(), account, name, with_counts=with_counts)
    if account != g.account_id and not resource_policies.allows(record.settings.policy, g.principal,
                                                                f"sqs:{action}", record.arn):
        raise AccessDeniedException(f"User: {g.principal.arn} is not authorized to perform: sqs:{action} on "
                                    f"resource: {arn}")
    return record


# -- queues


def _create_queue(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    name = r.string("QueueName", required=True) or ""
    account = g.account_id
    authorize("sqs:CreateQueue", queues.queue_arn(context.deps().settings.region, account, name))
    queues.create(context.deps(), account, name, r.string_map("Attributes") or {}, r.string_map("tags") or {})
    return {"QueueUrl": queue_url(account, name)}


def _get_queue_url(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    name = r.string("QueueName", required=True) or ""
    owner = r.string("QueueOwnerAWSAccountId") or g.account_id
    _queue({"QueueUrl": f"/{owner}/{name}"}, "GetQueueUrl")
    return {"QueueUrl": queue_url(owner, name)}


def _list_queues(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    prefix = r.string("QueueNamePrefix") or ""
    limit = r.integer("MaxResults")
    if limit is not None and not 1 <= limit <= 1000:
        raise InvalidParameterValue("Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000.")
    token = r.string("NextToken")
    authorize("sqs:ListQueues", queues.queue_arn(context.deps().settings.region, g.account_id, "*"))
    names = [q.name for q in queues.list_queues(context.deps(), g.account_id, prefix, with_counts=False)]
    if token:
        names = [n for n in names if n > token]
    page = names[: (limit or 1000)]
    out: dict[str, Any] = {"QueueUrls": [queue_url(g.account_id, n) for n in page]} if page else {}
    if limit is not None and len(names) > limit:
        out["NextToken"] = page[-1]
    return out


def _delete_queue(body: dict[str, Any]) -> dict[str, Any]:
    record = _queue(body, "DeleteQueue")
    queues.delete_queue(context.deps(), record.account_id, record.name)
    return {}


def _purge_queue(body: dict[str, Any]) -> dict[str, Any]:
    record = _queue(body, "PurgeQueue")
    queues.purge_queue(context.deps(), record.account_id, record.name)
    return {}


def queue_attributes(record: QueueRecord) -> dict[str, str]:
    """Every attribute of ``record`` as SQS returns them (strings)."""
    s = record.settings
    out = {
        "QueueArn": record.arn,
        "ApproximateNumberOfMessages": str(record.visible),
        "ApproximateNumberOfMessagesNotVisible": str(record.not_visible),
        "ApproximateNumberOfMessagesDelayed": str(record.delayed),
        "CreatedTimestamp": str(int(record.created)),
        "LastModifiedTimestamp": str(int(record.modified)),
        "VisibilityTimeout": str(s.visibility_timeout_s),
        "MaximumMessageSize": str(s.max_message_bytes),
        "MessageRetentionPeriod": str(s.retention_s),
        "DelaySeconds": str(s.delay_s),
        "ReceiveMessageWaitTimeSeconds": str(s.wait_s),
        "SqsManagedSseEnabled": "true" if s.sse else "false",
    }
    if s.policy is not None:
        out["Policy"] = s.policy
    if s.dead_letter is not None:
        out["RedrivePolicy"] = json.dumps({
            "deadLetterTargetArn": queues.queue_arn(context.deps().settings.region, record.account_id, s.dead_letter),
            "maxReceiveCount": s.max_receive_count,
        })
    if s.fifo:
        out.update(FifoQueue="true", ContentBasedDeduplication="true" if s.content_dedup else "false",
                   DeduplicationScope=s.dedup_scope, FifoThroughputLimit=s.throughput_limit)
    return out


def _get_queue_attributes(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    wanted = r.strings("AttributeNames") or []
    unknown = [n for n in wanted if n not in _QUEUE_ATTRIBUTE_NAMES]
    if unknown:
        raise InvalidAttributeName(f"Unknown Attribute {unknown[0]}.")
    record = _queue(body, "GetQueueAttributes", with_counts=True)
    attrs = queue_attributes(record)
    if "All" not in wanted:
        attrs = {k: v for k, v in attrs.items() if k in wanted}
    return {"Attributes": attrs} if attrs else {}


def _set_queue_attributes(body: dict[str, Any]) -> dict[str, Any]:
    attrs = Reader(body).string_map("Attributes", required=True) or {}
    record = _queue(body, "SetQueueAttributes")
    queues.set_attributes(context.deps(), record.account_id, record.name, attrs)
    return {}


def _tag_queue(body: dict[str, Any]) -> dict[str, Any]:
    tags = Reader(body).string_map("Tags", required=True) or {}
    record = _queue(body, "TagQueue")
    queues.tag(context.deps(), record.account_id, record.name, tags)
    return {}


def _untag_queue(body: dict[str, Any]) -> dict[str, Any]:
    keys = Reader(body).strings("TagKeys") or []
    record = _queue(body, "UntagQueue")
    queues.untag(context.deps(), record.account_id, record.name, keys)
    return {}


def _list_queue_tags(body: dict[str, Any]) -> dict[str, Any]:
    record = _queue(body, "ListQueueTags")
    return {"Tags": record.tags} if record.tags else {}


def _list_dead_letter_source_queues(body: dict[str, Any]) -> dict[str, Any]:
    record = _queue(body, "ListDeadLetterSourceQueues")
    sources = queues.dead_letter_sources(context.deps(), record.account_id, record.name)
    return {"queueUrls": [queue_url(record.account_id, q.name) for q in sources]}


def _add_permission(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    label = r.string("Label", required=True) or ""
    accounts = r.strings("AWSAccountIds") or []
    actions = r.strings("Actions") or []
    if not accounts or not actions or not all(_ACCOUNT_RE.fullmatch(a) for a in accounts):
        raise InvalidParameterValue("AWSAccountIds (12-digit account ids) and Actions are required.")
    record = _queue(body, "AddPermission")
    policy: dict[str, Any] = json.loads(record.settings.policy) if record.settings.policy else {
        "Version": "2012-10-17", "Statement": []}
    if any(st.get("Sid") == label for st in policy["Statement"]):
        raise InvalidParameterValue(f"Value {label} for parameter Label is invalid. Reason: Already exists.")
    policy["Statement"].append({
        "Sid": label, "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
        "Action": [a if a.startswith("SQS:") else f"SQS:{a}" for a in actions], "Resource": record.arn,
    })
    queues.set_attributes(context.deps(), record.account_id, record.name, {"Policy": json.dumps(policy)})
    return {}


def _remove_permission(body: dict[str, Any]) -> dict[str, Any]:
    label = Reader(body).string("Label", required=True) or ""
    record = _queue(body, "RemovePermission")
    policy: dict[str, Any] = json.loads(record.settings.policy) if record.settings.policy else {"Statement": []}
    kept = [st for st in policy["Statement"] if st.get("Sid") != label]
    if len(kept) == len(policy["Statement"]):
        raise InvalidParameterValue(f"Value {label} for parameter Label is invalid. Reason: can't find label.")
    policy["Statement"] = kept
    queues.set_attributes(context.deps(), record.account_id, record.name,
                          {"Policy": json.dumps(policy) if kept else ""})
    return {}


# -- messages


def _outgoing(r: Reader) -> Outgoing:
    return Outgoing(
        body=r.string("MessageBody") or "", delay_s=r.integer("DelaySeconds"),
        attributes=r.raw("MessageAttributes"), system_attributes=r.raw("MessageSystemAttributes"),
        group=r.string("MessageGroupId"), dedup_id=r.string("MessageDeduplicationId"),
        # AWS's SDKs send a Lambda function's trace header: it rides with the message (AWSTraceHeader).
        trace=request.headers.get("X-Amzn-Trace-Id") or None,
    )


def _sent_shape(sent: messages.Sent) -> dict[str, Any]:
    return without_none({"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5,
                         "MD5OfMessageAttributes": sent.md5_of_attributes,
                         "MD5OfMessageSystemAttributes": sent.md5_of_system,
                         "SequenceNumber": f"{sent.sequence:020d}" if sent.sequence is not None else None})


def _send_message(body: dict[str, Any]) -> dict[str, Any]:
    record = _queue(body, "SendMessage")
    [sent] = messages.send(context.deps(), record, [_outgoing(Reader(body))], sender=g.principal.key_id)
    return _sent_shape(sent)


def _entries(body: dict[str, Any]) -> list[Reader]:
    entries = body.get("Entries")
    if not isinstance(entries, list) or not entries:
        raise EmptyBatchRequest("There should be at least one SendMessageBatchRequestEntry in the request.")
    if len(entries) > messages.MAX_BATCH:
        raise TooManyEntriesInBatchRequest(f"Maximum number of entries per request are {messages.MAX_BATCH}. "
                                           f"You have sent {len(entries)}.")
    if not all(isinstance(e, dict) for e in entries):
        raise InvalidParameterValue("Entries must be a list of objects.")
    ids = [e.get("Id") for e in entries]
    for ident in ids:
        if not isinstance(ident, str) or not _ENTRY_ID_RE.fullmatch(ident):
            raise InvalidBatchEntryId("A batch entry id can only contain alphanumeric characters, hyphens and "
                                      "underscores. It can be at most 80 letters long.")
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
    return [Reader(e, f"Entries[{i}]") for i, e in enumerate(entries)]


def _failure(ident: str, err: LambdaError) -> dict[str, Any]:
    code = err.sqs_type if isinstance(err, QueueError) else "InvalidParameterValue"
    return {"Id": ident, "SenderFault": True, "Code": code, "Message": err.message}


def _batch(body: dict[str, Any], each: Callable[[QueueRecord, Reader], dict[str, Any]], action: str) -> dict[str, Any]:
    readers = _entries(body)
    record = _queue(body, action)
    successful, failed = [], []
    for er in readers:
        ident = er.string("Id") or ""
        try:
            successful.append({"Id": ident, **each(record, er)})
        except LambdaError as err:
            failed.append(_failure(ident, err))
    return {"Successful": successful, "Failed": failed}


def _send_message_batch(body: dict[str, Any]) -> dict[str, Any]:
    readers = _entries(body)
    total = sum(len(str(e.raw("MessageBody") or "").encode()) + len(json.dumps(e.raw("MessageAttributes") or {}))
                for e in readers)
    if total > MAX_BATCH_BYTES:
        raise BatchRequestTooLong(f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent "
                                  f"{total} bytes.")
    record = _queue(body, "SendMessage")
    deps = context.deps()
    good: list[tuple[str, Outgoing]] = []
    failed = []
    for er in readers:
        ident = er.string("Id") or ""
        out = _outgoing(er)
        try:
            messages.check(record, out)
            good.append((ident, out))
        except LambdaError as err:
            failed.append(_failure(ident, err))
    successful = []
    if good:
        sent = messages.send(deps, record, [o for _, o in good], sender=g.principal.key_id)
        successful = [{"Id": ident, **_sent_shape(s)} for (ident, _), s in zip(good, sent, strict=True)]
    return {"Successful": successful, "Failed": failed}


def _message_shape(msg: Message, system_names: set[str], attribute_names: list[str]) -> dict[str, Any]:
    every = {
        "SenderId": msg.sender or g.account_id, "SentTimestamp": str(msg.sent_ms),
        "ApproximateReceiveCount": str(msg.receive_count),
        "ApproximateFirstReceiveTimestamp": str(msg.first_receive_ms),
        "SequenceNumber": f"{msg.sequence:020d}" if msg.sequence is not None else None,
        "MessageDeduplicationId": msg.dedup_id, "MessageGroupId": msg.group,
        "AWSTraceHeader": msg.trace_header,
        "DeadLetterQueueSourceArn": msg.dead_letter_source,
    }
    chosen = {k: v for k, v in every.items() if v is not None and ("All" in system_names or k in system_names)}
    attrs = attributes.select(msg.attributes, attribute_names)
    return without_none({
        "MessageId": msg.message_id, "ReceiptHandle": msg.receipt_handle, "MD5OfBody": msg.md5, "Body": msg.body,
        "Attributes": chosen or None,
        "MD5OfMessageAttributes": attributes.md5_of(attrs),
        "MessageAttributes": attrs or None,
    })


def _receive_message(body: dict[str, Any]) -> dict[str, Any]:
    r = Reader(body)
    count = r.integer("MaxNumberOfMessages")
    if count is not None and not 1 <= count <= 10:
        raise InvalidParameterValue("Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 "
                                    "and 10, if provided.")
    wait = r.integer("WaitTimeSeconds")
    if wait is not None and not 0 <= wait <= 20:
        raise InvalidParameterValue("Value for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
                                    "if provided.")
    visibility = r.integer("VisibilityTimeout")
    system_names = set(r.strings("AttributeNames") or []) | set(r.strings("MessageSystemAttributeNames") or [])
    bad = system_names - _MESSAGE_SYSTEM_NAMES - {"All"}
    if bad:
        raise InvalidAttributeName(f"Unknown Attribute {sorted(bad)[0]}.")
    attribute_names = r.strings("MessageAttributeNames") or []
    attempt = r.string("ReceiveRequestAttemptId")
    if attempt is not None and not re.fullmatch(r"[\x21-\x7e]{1,128}", attempt):
        raise InvalidParameterValue("Value for parameter ReceiveRequestAttemptId is invalid.")
    record = _queue(body, "ReceiveMessage")
    got = messages.receive(context.deps(), record.account_id, record.name, max_messages=count or 1,
                           visibility_timeout_s=visibility,
                           wait_s=float(record.settings.wait_s if wait is None else wait))
    if not got:
        return {}
    return {"Messages": [_message_shape(m, system_names, attribute_names) for m in got]}


def _delete_message(body: dict[str, Any]) -> dict[str, Any]:
    handle = Reader(body).string("ReceiptHandle")
    if not handle:
        raise MissingParameter("The request must contain the parameter ReceiptHandle.")
    record = _queue(body, "DeleteMessage")
    # A stale handle deletes nothing and is not an error (as SQS): the message was received again since.
    messages.delete_message(context.deps(), record.account_id, record.name, handle)
    return {}


def _delete_one(record: QueueRecord, er: Reader) -> dict[str, Any]:
    handle = er.string("ReceiptHandle")
    if not handle:
        raise MissingParameter("The request must contain the parameter ReceiptHandle.")
    messages.delete_message(context.deps(), record.account_id, record.name, handle)
    return {}


def _delete_message_batch(body: dict[str, Any]) -> dict[str, Any]:
    return _batch(body, _delete_one, "DeleteMessage")


def _change_one(record: QueueRecord, er: Reader) -> dict[str, Any]:
    handle = er.string("ReceiptHandle")
    timeout = er.integer("VisibilityTimeout")
    if not handle or timeout is None:
        raise MissingParameter("The request must contain the parameters ReceiptHandle and VisibilityTimeout.")
    messages.change_visibility(context.deps(), record.account_id, record.name, handle, timeout, strict=True)
    return {}


def _change_message_visibility(body: dict[str, Any]) -> dict[str, Any]:
    record = _queue(body, "ChangeMessageVisibility")
    _change_one(record, Reader(body))
    return {}


def _change_message_visibility_batch(body: dict[str, Any]) -> dict[str, Any]:
    return _batch(body, _change_one, "ChangeMessageVisibility")


def _unsupported(body: dict[str, Any]) -> dict[str, Any]:
    raise UnsupportedOperation("lamina does not run message move tasks; receive from the dead-letter queue and "
                               "send to the source queue instead.")


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "CreateQueue": _create_queue, "GetQueueUrl": _get_queue_url, "ListQueues": _list_queues,
    "DeleteQueue": _delete_queue, "PurgeQueue": _purge_queue, "GetQueueAttributes": _get_queue_attributes,
    "SetQueueAttributes": _set_queue_attributes, "TagQueue": _tag_queue, "UntagQueue": _untag_queue,
    "ListQueueTags": _list_queue_tags, "ListDeadLetterSourceQueues": _list_dead_letter_source_queues,
    "AddPermission": _add_permission, "RemovePermission": _remove_permission,
    "SendMessage": _send_message, "SendMessageBatch": _send_message_batch, "ReceiveMessage": _receive_message,
    "DeleteMessage": _delete_message, "DeleteMessageBatch": _delete_message_batch,
    "ChangeMessageVisibility": _change_message_visibility,
    "ChangeMessageVisibilityBatch": _change_message_visibility_batch,
    "StartMessageMoveTask": _unsupported, "CancelMessageMoveTask": _unsupported, "ListMessageMoveTasks": _unsupported,
}


def handle(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    run = OPERATIONS.get(operation)
    if run is None:
        raise UnsupportedOperation(f"The action {operation} is not valid for this endpoint.")
    return run(body)
