"""A queue's messages: send, receive (with long polling), delete, change visibility, as SQS does.

A message is a JSON document in the queue's message hash, and a score in its visibility sorted set (the
time, ms, it becomes visible). ``receive`` hides what it hands out for the visibility timeout and gives
each message a new receipt handle; only the latest handle deletes it or changes its visibility. A
message received ``maxReceiveCount`` times moves to the dead-letter queue on the next receive, as SQS's
redrive policy does; one older than the retention period is dropped. Every change is one Lua script, so
concurrent consumers never see a half-moved message.

FIFO queues also keep each message's sequence number in a sorted set and receive in that order: a
message group with a message in flight (or delayed) yields nothing more until it is deleted or visible
again, so the messages of one group are handled strictly in order, one batch at a time. A send with a
deduplication id (or, with ContentBasedDeduplication, the body's SHA-256) seen in the last five minutes
is accepted and not queued again.

Keys (``lamina.services.queues.queues.key``)::

    m   hash  message id -> message (JSON)
    v   zset  message id -> visible-at (epoch ms)
    h   hash  message id -> current receipt handle
    s   zset  message id -> sequence number (FIFO)
    n   counter of sequence numbers (FIFO)
    d:<scope>   deduplication marker, 5 minutes (FIFO)
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from lamina.services.common import Deps
from lamina.services.queues import attributes
from lamina.services.queues.errors import (
    InvalidMessageContents,
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    ReceiptHandleIsInvalid,
)
from lamina.services.queues.queues import QueueRecord, key, load, queue_arn, resolve_name

MAX_BATCH = 10
DEDUP_WINDOW_MS = 5 * 60 * 1000
LONG_POLL_STEP_S = 0.02
_HANDLE_RE = re.compile(r"(?P<id>[0-9a-f-]{36}):\d+:[0-9a-f]{16}")
_DEDUP_RE = re.compile(r"[\x21-\x7e]{1,128}")
# SQS allows #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF in a body.
_BAD_BODY_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# The receive scripts' shared part: their arguments and the moves of one message.
# KEYS: m v h dlq-m dlq-v s dlq-s dlq-n; ARGV: now want vis maxrc tag retention dlq-arn dlq-fifo
_RECEIVE_COMMON = """
local now = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local vis = tonumber(ARGV[3])
local maxrc = tonumber(ARGV[4])
local tag = ARGV[5]
local retention = tonumber(ARGV[6])
local out = {}
local got = 0
local function to_dlq(id, raw, now)
  local msg = cjson.decode(raw)
  msg.dlsrc = ARGV[7]
  local enc = cjson.encode(msg)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[6], id)
  redis.call('HSET', KEYS[4], id, enc)
  redis.call('ZADD', KEYS[5], now, id)
  if ARGV[8] == '1' then
    redis.call('ZADD', KEYS[7], redis.call('INCR', KEYS[8]), id)
  end
end
local function drop(id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[6], id)
end
local function take(id, msg, now, vis, tag, out)
  msg.rc = msg.rc + 1
  if msg.first == 0 then msg.first = now end
  local enc = cjson.encode(msg)
  redis.call('HSET', KEYS[1], id, enc)
  redis.call('ZADD', KEYS[2], now + vis, id)
  local handle = id .. ':' .. msg.rc .. ':' .. tag
  redis.call('HSET', KEYS[3], id, handle)
  table.insert(out, enc)
  table.insert(out, handle)
end
"""

_RECEIVE = _RECEIVE_COMMON + """
local seen = {}
local nseen = 0
-- With a visibility timeout of 0 a message handed out stays visible: skip those seen in this call.
while got < want do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, want - got + nseen)
  local fresh = 0
  for _, id in ipairs(ids) do
    if got < want and not seen[id] then
      fresh = fresh + 1
      local raw = redis.call('HGET', KEYS[1], id)
      if not raw then
        drop(id)
      else
        local msg = cjson.decode(raw)
        if msg.sent + retention <= now then
          drop(id)
        elseif maxrc > 0 and KEYS[4] ~= '' and msg.rc >= maxrc then
          to_dlq(id, raw, now)
        else
          take(id, msg, now, vis, tag, out)
          got = got + 1
          seen[id] = true
          nseen = nseen + 1
        end
      end
    end
  end
  if fresh == 0 then break end
end
return out
"""

# FIFO: walk the messages in sequence order; a group whose head is invisible (in flight or delayed)
# is blocked for the rest of the walk.
_RECEIVE_FIFO = _RECEIVE_COMMON + """
local blocked = {}
local offset = 0
while got < want do
  local ids = redis.call('ZRANGE', KEYS[6], offset, offset + 99)
  if #ids == 0 then break end
  offset = offset + #ids
  for _, id in ipairs(ids) do
    if got < want then
      local raw = redis.call('HGET', KEYS[1], id)
      if not raw then
        drop(id)
        offset = offset - 1
      else
        local msg = cjson.decode(raw)
        local group = msg.group or ''
        if not blocked[group] then
          local at = tonumber(redis.call('ZSCORE', KEYS[2], id) or now)
          if msg.sent + retention <= now then
            drop(id)
            offset = offset - 1
          elseif at > now then
            blocked[group] = true
          elseif maxrc > 0 and KEYS[4] ~= '' and msg.rc >= maxrc then
            to_dlq(id, raw, now)
            offset = offset - 1
          else
            take(id, msg, now, vis, tag, out)
            got = got + 1
          end
        end
      end
    end
  end
end
return out
"""

# KEYS: m v s n dedup...; ARGV: now, then per message: id, json, visible-at, dedup ttl ms
_SEND_FIFO = """
local now = tonumber(ARGV[1])
local out = {}
local i = 2
local k = 5
while i <= #ARGV do
  local id, raw, at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local existing = redis.call('GET', KEYS[k])
  if existing then
    table.insert(out, existing)
  else
    local seq = redis.call('INCR', KEYS[4])
    local msg = cjson.decode(raw)
    msg.seq = seq
    redis.call('HSET', KEYS[1], id, cjson.encode(msg))
    redis.call('ZADD', KEYS[2], at, id)
    redis.call('ZADD', KEYS[3], seq, id)
    local mark = id .. ' ' .. seq
    redis.call('SET', KEYS[k], mark, 'PX', ARGV[i + 3])
    table.insert(out, mark)
  end
  i = i + 4
  k = k + 1
end
return out
"""

# KEYS: m v h s; ARGV: id handle
_DELETE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""

# KEYS: m v h; ARGV: id handle visible-at now. 1 done, 0 stale handle, -1 not in flight.
_RELEASE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
local at = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or 0)
if at <= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""



@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str
    md5: str
    sent_ms: int
    receive_count: int
    first_receive_ms: int
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    md5_of_attributes: str | None = None
    system: dict[str, dict[str, str]] = field(default_factory=dict)
    group: str | None = None
    dedup_id: str | None = None
    sequence: int | None = None
    sender: str = ""
    dead_letter_source: str | None = None
    trace: str | None = None  # the sender's X-Amzn-Trace-Id (SQS's AWSTraceHeader; it counts event chains)

    @property
    def trace_header(self) -> str | None:
        """AWSTraceHeader: the one sent as a system attribute, else the sender's X-Amzn-Trace-Id."""
        return (self.system.get("AWSTraceHeader") or {}).get("StringValue") or self.trace


@dataclass(frozen=True)
class Outgoing:
    """One message to send."""

    body: str
    delay_s: int | None = None
    attributes: Any = None
    system_attributes: Any = None
    group: str | None = None
    dedup_id: str | None = None
    trace: str | None = None  # the sender's X-Amzn-Trace-Id


@dataclass(frozen=True)
class Sent:
    message_id: str
    md5: str
    md5_of_attributes: str | None
    md5_of_system: str | None
    sequence: int | None


_MAX_TRACE = 1024  # an X-Ray trace header is well under this; a longer one is cut, not stored whole


def _scripts(r: redis.Redis) -> dict[str, Any]:
    # register_script only hashes the source; EVALSHA falls back to EVAL when the script is missing.
    return {name: r.register_script(src) for name, src in (
        ("receive", _RECEIVE), ("receive_fifo", _RECEIVE_FIFO), ("send_fifo", _SEND_FIFO),
        ("delete", _DELETE), ("release", _RELEASE))}


def _check_body(body: Any) -> str:
    if not isinstance(body, str) or body == "":
        raise MissingParameter("The request must contain the parameter MessageBody.")
    if _BAD_BODY_CHARS.search(body):
        raise InvalidMessageContents("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | "
                                     "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
    return body


def _prepare(queue: QueueRecord, out: Outgoing, sender: str, now: int) -> tuple[dict[str, Any], int, str | None]:
    """(message document, visible-at, deduplication id) of ``out``, validated against ``queue``."""
    s = queue.settings
    body = _check_body(out.body)
    attrs = attributes.validate(out.attributes)
    system = attributes.validate(out.system_attributes, "MessageSystemAttributes", system=True)
    size = len(body.encode()) + attributes.size_of(attrs)
    if size > s.max_message_bytes:
        raise InvalidParameterValue(f"One or more parameters are invalid. Reason: Message must be shorter than "
                                    f"{s.max_message_bytes} bytes.")
    if out.delay_s is not None and not 0 <= out.delay_s <= 900:
        raise InvalidParameterValue("Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.")
    dedup = out.dedup_id
    if s.fifo:
        if out.delay_s is not None:
            raise InvalidParameterValue("Value for parameter DelaySeconds is invalid. Reason: The request "
                                        "include parameter that is not valid for this queue type.")
        if not out.group:
            raise MissingParameter("The request must contain the parameter MessageGroupId.")
        if dedup is None and s.content_dedup:
            dedup = hashlib.sha256(body.encode()).hexdigest()
        if dedup is None:
            raise InvalidParameterValue("The queue should either have ContentBasedDeduplication enabled or "
                                        "MessageDeduplicationId provided explicitly")
    elif dedup is not None:
        raise InvalidParameterValue("Value for parameter MessageDeduplicationId is invalid. Reason: The request "
                                    "include parameter that is not valid for this queue type.")
    for what, value in (("MessageGroupId", out.group), ("MessageDeduplicationId", dedup)):
        if value is not None and not _DEDUP_RE.fullmatch(value):
            raise InvalidParameterValue(f"Value for parameter {what} is invalid: 1 to 128 printable ASCII "
                                        "characters.")
    delay = s.delay_s if out.delay_s is None else out.delay_s
    message_id = str(uuid.uuid4())
    msg = {"id": message_id, "body": body, "md5": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's
           "sent": now, "rc": 0, "first": 0, "attrs": attrs, "md5a": attributes.md5_of(attrs),
           "sys": system, "md5s": attributes.md5_of(system), "group": out.group, "dedup": dedup,
           "sender": sender}
    if out.trace:
        msg["trace"] = out.trace[:_MAX_TRACE]
    return msg, now + delay * 1000, dedup


def check(queue: QueueRecord, out: Outgoing) -> None:
    """Raise the error sending ``out`` to ``queue`` would raise (a batch reports each entry's own)."""
    _prepare(queue, out, "", int(time.time() * 1000))


def stage_send(pipe: Any, account_id: str, name: str, body: str, delay_s: float = 0.0,
               trace: str | None = None) -> tuple[str, str]:
    """Queue the writes that send ``body`` to standard queue ``name`` on ``pipe``; return (id, MD5).

    The caller has checked that the queue exists; this lets a sender make the send part of its own
    transaction (a destination delivered together with the event's completion).
    """
    now = int(time.time() * 1000)
    message_id = str(uuid.uuid4())
    md5 = hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's MD5OfMessageBody, not security
    msg: dict[str, Any] = {"id": message_id, "body": body, "md5": md5, "sent": now, "rc": 0, "first": 0}
    if trace:
        msg["trace"] = trace[:_MAX_TRACE]
    pipe.hset(key(account_id, name, "m"), message_id, json.dumps(msg))
    pipe.zadd(key(account_id, name, "v"), {message_id: now + int(delay_s * 1000)})
    return message_id, md5


def send(deps: Deps, queue: QueueRecord, messages: Sequence[Outgoing], sender: str = "") -> list[Sent]:
    """Send ``messages`` (validated first, all or none) to ``queue`` in one transaction."""
    if not messages or len(messages) > MAX_BATCH:
        raise InvalidParameterValue(f"A batch holds 1 to {MAX_BATCH} messages.")
    now = int(time.time() * 1000)
    prepared = [_prepare(queue, m, sender, now) for m in messages]
    acct, name = queue.account_id, queue.name
    sent = []
    if not queue.fifo:
        pipe = deps.redis.pipeline()
        for msg, at, _ in prepared:
            pipe.hset(key(acct, name, "m"), msg["id"], json.dumps(msg))
            pipe.zadd(key(acct, name, "v"), {msg["id"]: at})
            sent.append(Sent(msg["id"], msg["md5"], msg["md5a"], msg["md5s"], None))
        pipe.execute()
        return sent
    per_group = queue.settings.dedup_scope == "messageGroup"
    dedup_keys = [key(acct, name, f"d:{msg['group']}:{dedup}" if per_group else f"d:{dedup}")
                  for msg, _, dedup in prepared]
    args: list[Any] = [now]
    for msg, at, _ in prepared:
        args += [msg["id"], json.dumps(msg), at, DEDUP_WINDOW_MS]
    marks = _scripts(deps.redis)["send_fifo"](
        keys=[key(acct, name, "m"), key(acct, name, "v"), key(acct, name, "s"), key(acct, name, "n"), *dedup_keys],
        args=args,
    )
    for (msg, _, _), mark in zip(prepared, marks, strict=True):
        message_id, _, seq = mark.decode().partition(" ")
        sent.append(Sent(message_id, msg["md5"], msg["md5a"], msg["md5s"], int(seq)))
    return sent


def send_messages(deps: Deps, account_id: str, name: str, bodies: Sequence[str],
                  delay_s: int = 0) -> list[tuple[str, str]]:
    """lamina's own API: send each body (at most 10) to a standard queue; return [(message id, MD5)]."""
    queue = load(deps, account_id, resolve_name(deps, name))
    sent = send(deps, queue, [Outgoing(b, delay_s=delay_s if not queue.fifo else None,
                                       group="default" if queue.fifo else None,
                                       dedup_id=str(uuid.uuid4()) if queue.fifo else None) for b in bodies])
    return [(s.message_id, s.md5) for s in sent]


def receive(deps: Deps, account_id: str, name: str, max_messages: int = 1,
            visibility_timeout_s: int | None = None, wait_s: float = 0.0) -> list[Message]:
    """Take up to ``max_messages`` visible messages, hiding them for the visibility timeout; with
    ``wait_s``, wait that long for the first one to arrive (long polling).

    Messages past the queue's maxReceiveCount move to its dead-letter queue instead of being returned.
    """
    queue = load(deps, account_id, resolve_name(deps, name))
    if not 1 <= max_messages <= 10000:
        raise InvalidParameterValue("MaxNumberOfMessages must be between 1 and 10000.")
    if visibility_timeout_s is not None and not 0 <= visibility_timeout_s <= 43200:
        raise InvalidParameterValue("VisibilityTimeout must be between 0 and 43200 seconds.")
    deadline = time.monotonic() + wait_s
    while True:
        got = _receive_once(deps, queue, max_messages, visibility_timeout_s)
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(min(LONG_POLL_STEP_S, max(0.0, deadline - time.monotonic())))


def _receive_once(deps: Deps, queue: QueueRecord, want: int, visibility_timeout_s: int | None) -> list[Message]:
    s = queue.settings
    acct, name = queue.account_id, queue.name
    vt = s.visibility_timeout_s if visibility_timeout_s is None else visibility_timeout_s
    dlq = s.dead_letter or ""
    keys = [key(acct, name, "m"), key(acct, name, "v"), key(acct, name, "h"),
            key(acct, dlq, "m") if dlq else "", key(acct, dlq, "v") if dlq else "", key(acct, name, "s"),
            key(acct, dlq, "s") if dlq else "", key(acct, dlq, "n") if dlq else ""]
    now = int(time.time() * 1000)
    script = _scripts(deps.redis)["receive_fifo" if s.fifo else "receive"]
    out = script(keys=keys, args=[now, want, vt * 1000, s.max_receive_count or 0, secrets.token_hex(8),
                                  s.retention_s * 1000, queue.arn, "1" if s.fifo else "0"])
    return [_message(json.loads(out[i]), out[i + 1].decode()) for i in range(0, len(out), 2)]


def _message(msg: dict[str, Any], handle: str) -> Message:
    # cjson encodes an empty table as {}; a missing optional member comes back as None.
    return Message(
        message_id=msg["id"], receipt_handle=handle, body=msg["body"], md5=msg["md5"],
        sent_ms=int(msg["sent"]), receive_count=int(msg["rc"]), first_receive_ms=int(msg["first"]),
        attributes=msg.get("attrs") or {}, md5_of_attributes=msg.get("md5a") or None,
        system=msg.get("sys") or {}, group=msg.get("group") or None, dedup_id=msg.get("dedup") or None,
        sequence=msg.get("seq"), sender=msg.get("sender") or "", dead_letter_source=msg.get("dlsrc") or None,
        trace=msg.get("trace") or None,
    )


def handle_id(receipt_handle: str) -> str:
    m = _HANDLE_RE.fullmatch(receipt_handle or "")
    if m is None:
        raise ReceiptHandleIsInvalid(f'The input receipt handle "{receipt_handle}" is not a valid receipt handle.')
    return m["id"]


def delete_message(deps: Deps, account_id: str, name: str, receipt_handle: str) -> bool:
    """Delete the message ``receipt_handle`` was issued for; False if that handle is no longer current."""
    name = resolve_name(deps, name)
    keys = [key(account_id, name, p) for p in ("m", "v", "h", "s")]
    return bool(_scripts(deps.redis)["delete"](keys=keys, args=[handle_id(receipt_handle), receipt_handle]))


def change_visibility(deps: Deps, account_id: str, name: str, receipt_handle: str, timeout_s: float,
                      strict: bool = False) -> bool:
    """Make the message visible again after ``timeout_s`` (0 = now); False if the handle is stale.

    With ``strict`` (the SQS API), a message no longer in flight is MessageNotInflight and a stale
    handle ReceiptHandleIsInvalid."""
    name = resolve_name(deps, name)
    if not 0 <= timeout_s <= 43200:
        raise InvalidParameterValue("VisibilityTimeout must be between 0 and 43200 seconds.")
    keys = [key(account_id, name, p) for p in ("m", "v", "h")]
    now = int(time.time() * 1000)
    done = int(_scripts(deps.redis)["release"](
        keys=keys, args=[handle_id(receipt_handle), receipt_handle, now + int(timeout_s * 1000), now]))
    if strict and done == 0:
        raise ReceiptHandleIsInvalid(f'The receipt handle "{receipt_handle}" is no longer valid (received again '
                                     "or deleted since).")
    if strict and done < 0:
        raise MessageNotInflight("The message referred to is not in flight.")
    return done == 1


__all__ = ["Message", "Outgoing", "Sent", "send", "receive", "delete_message", "change_visibility",
           "stage_send", "send_messages", "queue_arn"]


def dead_letter(deps: Deps, account_id: str, name: str, msg: Message) -> None:
    """Take a received message off its queue for good: to the queue's dead-letter queue when it has one,
    else deleted (a message whose invocation is stopped as a recursive loop, as Lambda does)."""
    queue = load(deps, account_id, resolve_name(deps, name))
    if queue.dead_letter:
        dlq = load(deps, account_id, queue.dead_letter)
        send(deps, dlq, [Outgoing(msg.body, attributes=msg.attributes or None,
                                  group=(msg.group or "default") if dlq.fifo else None,
                                  dedup_id=msg.message_id if dlq.fifo else None)], sender=msg.sender)
    delete_message(deps, account_id, name, msg.receipt_handle)
