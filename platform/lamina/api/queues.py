"""Lamina queues (lamina's own API): /lamina/v1/queues — create, list, get, delete, purge, send (one or a
batch), receive (for inspection), delete a message."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.api.shapes import Reader, without_none
from lamina.errors import InvalidParameterValueException
from lamina.services.queues import messages, queues
from lamina.services.queues.messages import Message
from lamina.services.queues.queues import QueueRecord

bp = context.blueprint("queues")
BASE = "/lamina/v1/queues"


@bp.post(BASE)
def create_queue() -> ResponseReturnValue:
    r = Reader(context.body())
    rec = queues.create_queue(
        context.deps(), context.account_id(), r.string("QueueName", required=True) or "",
        visibility_timeout_s=r.integer("VisibilityTimeout"), max_receive_count=r.integer("MaxReceiveCount"),
        dead_letter=r.string("DeadLetterQueue"),
    )
    return queue_shape(rec), 201


@bp.get(BASE)
def list_queues() -> ResponseReturnValue:
    return {"Queues": [queue_shape(q) for q in queues.list_queues(context.deps(), context.account_id())]}


@bp.get(BASE + "/<name>")
def get_queue(name: str) -> ResponseReturnValue:
    return queue_shape(queues.get_queue(context.deps(), context.account_id(), name))


@bp.delete(BASE + "/<name>")
def delete_queue(name: str) -> ResponseReturnValue:
    queues.delete_queue(context.deps(), context.account_id(), name)
    return "", 204


@bp.post(BASE + "/<name>/purge")
def purge_queue(name: str) -> ResponseReturnValue:
    queues.purge_queue(context.deps(), context.account_id(), name)
    return "", 204


@bp.post(BASE + "/<name>/messages")
def send_messages(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    delay = r.integer("DelaySeconds") or 0
    entries = r.raw("Entries")
    if entries is None:
        [(message_id, md5)] = messages.send_messages(context.deps(), context.account_id(), name,
                                                   [r.string("MessageBody", required=True) or ""], delay)
        return {"MessageId": message_id, "MD5OfMessageBody": md5}
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidParameterValueException("Entries must be a list of objects.")
    readers = [Reader(e, f"Entries[{i}]") for i, e in enumerate(entries)]
    bodies = [er.string("MessageBody", required=True) or "" for er in readers]
    sent = messages.send_messages(context.deps(), context.account_id(), name, bodies, delay)
    return {"Successful": [
        {"Id": er.string("Id") or str(i), "MessageId": mid, "MD5OfMessageBody": md5}
        for i, (er, (mid, md5)) in enumerate(zip(readers, sent, strict=True))
    ], "Failed": []}


@bp.post(BASE + "/<name>/receive")
def receive_messages(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    msgs = messages.receive(context.deps(), context.account_id(), name,
                          max_messages=r.integer("MaxNumberOfMessages") or 1,
                          visibility_timeout_s=r.integer("VisibilityTimeout"))
    return {"Messages": [message_shape(m) for m in msgs]}


@bp.post(BASE + "/<name>/delete-message")
def delete_message(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    if not messages.delete_message(context.deps(), context.account_id(), name,
                                 r.string("ReceiptHandle", required=True) or ""):
        raise InvalidParameterValueException("The receipt handle is no longer valid (received again since).")
    return "", 204


# -- wire shapes


def queue_shape(rec: QueueRecord) -> dict[str, Any]:
    s = rec.settings
    return without_none({
        "QueueName": rec.name,
        "QueueArn": rec.arn,
        "FifoQueue": s.fifo,
        "VisibilityTimeout": rec.visibility_timeout_s,
        "DelaySeconds": s.delay_s,
        "MessageRetentionPeriod": s.retention_s,
        "ReceiveMessageWaitTimeSeconds": s.wait_s,
        "MaximumMessageSize": s.max_message_bytes,
        "ContentBasedDeduplication": s.content_dedup if s.fifo else None,
        "ApproximateNumberOfMessages": rec.visible,
        "ApproximateNumberOfMessagesNotVisible": rec.not_visible,
        "ApproximateNumberOfMessagesDelayed": rec.delayed,
        "CreatedTimestamp": int(rec.created),
        "MaxReceiveCount": rec.max_receive_count,
        "DeadLetterQueueArn": rec.arn.rsplit(":", 1)[0] + ":" + rec.dead_letter if rec.dead_letter else None,
    })


def message_shape(msg: Message) -> dict[str, Any]:
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
