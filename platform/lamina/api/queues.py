"""Lamina queues (lamina's own API): /lamina/v1/queues — create, list, get, delete, purge, send (one or a
batch), receive (for inspection), delete a message."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.api import trigger_shapes as ts
from lamina.api.shapes import Reader
from lamina.errors import InvalidParameterValueException
from lamina.services.queues import queues

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
    return ts.queue(rec), 201


@bp.get(BASE)
def list_queues() -> ResponseReturnValue:
    return {"Queues": [ts.queue(q) for q in queues.list_queues(context.deps(), context.account_id())]}


@bp.get(BASE + "/<name>")
def get_queue(name: str) -> ResponseReturnValue:
    return ts.queue(queues.get_queue(context.deps(), context.account_id(), name))


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
        [(message_id, md5)] = queues.send_messages(context.deps(), context.account_id(), name,
                                                   [r.string("MessageBody", required=True) or ""], delay)
        return {"MessageId": message_id, "MD5OfMessageBody": md5}
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidParameterValueException("Entries must be a list of objects.")
    readers = [Reader(e, f"Entries[{i}]") for i, e in enumerate(entries)]
    bodies = [er.string("MessageBody", required=True) or "" for er in readers]
    sent = queues.send_messages(context.deps(), context.account_id(), name, bodies, delay)
    return {"Successful": [
        {"Id": er.string("Id") or str(i), "MessageId": mid, "MD5OfMessageBody": md5}
        for i, (er, (mid, md5)) in enumerate(zip(readers, sent, strict=True))
    ], "Failed": []}


@bp.post(BASE + "/<name>/receive")
def receive_messages(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    msgs = queues.receive(context.deps(), context.account_id(), name,
                          max_messages=r.integer("MaxNumberOfMessages") or 1,
                          visibility_timeout_s=r.integer("VisibilityTimeout"))
    return {"Messages": [ts.message(m) for m in msgs]}


@bp.post(BASE + "/<name>/delete-message")
def delete_message(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    if not queues.delete_message(context.deps(), context.account_id(), name,
                                 r.string("ReceiptHandle", required=True) or ""):
        raise InvalidParameterValueException("The receipt handle is no longer valid (received again since).")
    return "", 204
