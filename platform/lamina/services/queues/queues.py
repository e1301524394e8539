"""Lamina queues: SQS-like message queues kept in Redis (the event sources of event source mappings).

A queue is a hash of messages plus a sorted set scoring each message by the time (ms) it becomes
visible. ``receive`` hides the messages it hands out for the visibility timeout and gives each a new
receipt handle; only the latest handle deletes a message, so a consumer whose timeout ran out cannot
delete a message someone else now holds. A message received ``max_receive_count`` times moves to the
queue's dead-letter queue on the next receive, as SQS's redrive policy does. Every change to a
message is one Lua script, so concurrent consumers never see a half-moved message.

Keys (all under ``lamina:sqs:<account>:``)::

    queues          hash  name -> queue attributes (JSON)
    <name>:m        hash  message id -> message (JSON: id, body, md5, sent, rc, first)
    <name>:v        zset  message id -> visible-at (epoch ms)
    <name>:h        hash  message id -> current receipt handle
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from lamina.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from lamina.services.common import Deps

NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,80}")
ARN_RE = re.compile(r"arn:aws[a-zA-Z-]*:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[a-zA-Z0-9_-]{1,80})")
MAX_BATCH = 10
MAX_MESSAGE_BYTES = 256 * 1024
DEFAULT_VISIBILITY_S = 30

_RECEIVE = """
local now = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local vis = tonumber(ARGV[3])
local maxrc = tonumber(ARGV[4])
local tag = ARGV[5]
local out = {}
local got = 0
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
        redis.call('ZREM', KEYS[2], id)
        redis.call('HDEL', KEYS[3], id)
      else
        local msg = cjson.decode(raw)
        if maxrc > 0 and KEYS[4] ~= '' and msg.rc >= maxrc then
          redis.call('HDEL', KEYS[1], id)
          redis.call('ZREM', KEYS[2], id)
          redis.call('HDEL', KEYS[3], id)
          redis.call('HSET', KEYS[4], id, raw)
          redis.call('ZADD', KEYS[5], now, id)
        else
          msg.rc = msg.rc + 1
          if msg.first == 0 then msg.first = now end
          local enc = cjson.encode(msg)
          redis.call('HSET', KEYS[1], id, enc)
          redis.call('ZADD', KEYS[2], now + vis, id)
          local handle = id .. ':' .. msg.rc .. ':' .. tag
          redis.call('HSET', KEYS[3], id, handle)
          table.insert(out, enc)
          table.insert(out, handle)
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

_DELETE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class QueueRecord:
    name: str
    arn: str
    visibility_timeout_s: int
    max_receive_count: int | None
    dead_letter: str | None  # queue name
    created: float
    visible: int = 0
    not_visible: int = 0


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str
    md5: str
    sent_ms: int
    receive_count: int
    first_receive_ms: int


def _k(account_id: str, name: str, part: str) -> str:
    return f"lamina:sqs:{account_id}:{name}:{part}"


def _index(account_id: str) -> str:
    return f"lamina:sqs:{account_id}:queues"


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


def parse_arn(deps: Deps, arn: str) -> str:
    """The queue name in ``arn`` (a lamina queue of this region and account); else InvalidParameterValue."""
    m = ARN_RE.fullmatch(arn or "")
    if m is None:
        raise InvalidParameterValueException(f"Invalid queue ARN: {arn}")
    if m["region"] != deps.settings.region or m["account"] != deps.settings.account_id:
        raise ResourceNotFoundException(f"The queue {arn} does not exist.")
    return m["name"]


def _scripts(r: redis.Redis) -> dict[str, Any]:
    # register_script is cheap (it hashes the source); EVALSHA falls back to EVAL when missing.
    return {"receive": r.register_script(_RECEIVE), "delete": r.register_script(_DELETE),
            "release": r.register_script(_RELEASE)}


def _meta(deps: Deps, account_id: str, name: str) -> dict[str, Any]:
    raw = deps.redis.hget(_index(account_id), name)
    if raw is None:
        raise ResourceNotFoundException(
            f"The queue {queue_arn(deps.settings.region, account_id, name)} does not exist."
        )
    return json.loads(raw)


def _record(deps: Deps, account_id: str, meta: dict[str, Any], counts: bool = True) -> QueueRecord:
    name = meta["name"]
    visible = not_visible = 0
    if counts:
        now = int(time.time() * 1000)
        pipe = deps.redis.pipeline(transaction=False)
        pipe.zcount(_k(account_id, name, "v"), "-inf", now)
        pipe.zcount(_k(account_id, name, "v"), f"({now}", "+inf")
        visible, not_visible = pipe.execute()
    return QueueRecord(
        name=name,
        arn=queue_arn(deps.settings.region, account_id, name),
        visibility_timeout_s=int(meta["visibility_timeout_s"]),
        max_receive_count=meta.get("max_receive_count"),
        dead_letter=meta.get("dead_letter"),
        created=float(meta["created"]),
        visible=int(visible),
        not_visible=int(not_visible),
    )


def _queue_name(deps: Deps, value: str) -> str:
    """A queue given by name or ARN."""
    if value.startswith("arn:"):
        return parse_arn(deps, value)
    if not NAME_RE.fullmatch(value or ""):
        raise InvalidParameterValueException(
            "Queue names may only contain alphanumeric characters, hyphens and underscores (1 to 80)."
        )
    return value


def create_queue(deps: Deps, account_id: str, name: str, visibility_timeout_s: int | None = None,
                 max_receive_count: int | None = None, dead_letter: str | None = None) -> QueueRecord:
    """Create queue ``name``; creating it again with the same attributes returns it (as SQS does).

    Raises InvalidParameterValueException for a bad name or attribute, ResourceNotFoundException for an
    unknown dead-letter queue and ResourceConflictException for an existing queue with other attributes.
    """
    name = _queue_name(deps, name)
    vt = DEFAULT_VISIBILITY_S if visibility_timeout_s is None else int(visibility_timeout_s)
    if not 0 <= vt <= 43200:
        raise InvalidParameterValueException("VisibilityTimeout must be between 0 and 43200 seconds.")
    if max_receive_count is not None and not 1 <= int(max_receive_count) <= 1000:
        raise InvalidParameterValueException("MaxReceiveCount must be between 1 and 1000.")
    dlq = _queue_name(deps, dead_letter) if dead_letter else None
    if dlq is not None:
        if dlq == name:
            raise InvalidParameterValueException("A queue cannot be its own dead-letter queue.")
        _meta(deps, account_id, dlq)
    meta = {"name": name, "visibility_timeout_s": vt,
            "max_receive_count": int(max_receive_count) if max_receive_count is not None else None,
            "dead_letter": dlq, "created": time.time()}
    if not deps.redis.hsetnx(_index(account_id), name, json.dumps(meta)):
        existing = _meta(deps, account_id, name)
        same = all(existing.get(k) == meta[k] for k in ("visibility_timeout_s", "max_receive_count", "dead_letter"))
        if not same:
            raise ResourceConflictException(f"A queue named {name} already exists with different attributes.")
        meta = existing
    return _record(deps, account_id, meta)


def get_queue(deps: Deps, account_id: str, name: str) -> QueueRecord:
    return _record(deps, account_id, _meta(deps, account_id, _queue_name(deps, name)))


def list_queues(deps: Deps, account_id: str) -> list[QueueRecord]:
    metas = [json.loads(v) for v in deps.redis.hvals(_index(account_id))]
    return [_record(deps, account_id, m) for m in sorted(metas, key=lambda m: m["name"])]


def delete_queue(deps: Deps, account_id: str, name: str) -> None:
    name = _queue_name(deps, name)
    _meta(deps, account_id, name)
    pipe = deps.redis.pipeline()
    pipe.hdel(_index(account_id), name)
    pipe.delete(*(_k(account_id, name, p) for p in ("m", "v", "h")))
    pipe.execute()


def purge_queue(deps: Deps, account_id: str, name: str) -> None:
    name = _queue_name(deps, name)
    _meta(deps, account_id, name)
    deps.redis.delete(*(_k(account_id, name, p) for p in ("m", "v", "h")))


def _check_body(body: Any) -> str:
    if not isinstance(body, str) or body == "":
        raise InvalidParameterValueException("MessageBody must be a non-empty string.")
    if len(body.encode()) > MAX_MESSAGE_BYTES:
        raise InvalidParameterValueException(f"MessageBody must be at most {MAX_MESSAGE_BYTES} bytes.")
    return body


def stage_send(pipe: Any, account_id: str, name: str, body: str, delay_s: float = 0.0) -> tuple[str, str]:
    """Queue the writes that send ``body`` to queue ``name`` on ``pipe``; return (message id, MD5).

    The caller has checked that the queue exists; this lets a sender make the send part of its own
    transaction (a destination delivered together with the event's completion).
    """
    message_id = str(uuid.uuid4())
    md5 = hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's MD5OfMessageBody, not security
    now = int(time.time() * 1000)
    msg = {"id": message_id, "body": body, "md5": md5, "sent": now, "rc": 0, "first": 0}
    pipe.hset(_k(account_id, name, "m"), message_id, json.dumps(msg))
    pipe.zadd(_k(account_id, name, "v"), {message_id: now + int(delay_s * 1000)})
    return message_id, md5


def exists(deps: Deps, account_id: str, name: str) -> bool:
    return bool(deps.redis.hexists(_index(account_id), name))


def send_messages(deps: Deps, account_id: str, name: str, bodies: Sequence[str],
                  delay_s: float = 0.0) -> list[tuple[str, str]]:
    """Send each body in ``bodies`` (at most 10) in one transaction; return [(message id, MD5)]."""
    name = _queue_name(deps, name)
    _meta(deps, account_id, name)
    if not bodies or len(bodies) > MAX_BATCH:
        raise InvalidParameterValueException(f"A batch holds 1 to {MAX_BATCH} messages.")
    if not 0 <= delay_s <= 900:
        raise InvalidParameterValueException("DelaySeconds must be between 0 and 900.")
    pipe = deps.redis.pipeline()
    sent = [stage_send(pipe, account_id, name, _check_body(b), delay_s) for b in bodies]
    pipe.execute()
    return sent


def receive(deps: Deps, account_id: str, name: str, max_messages: int = 1,
            visibility_timeout_s: int | None = None) -> list[Message]:
    """Take up to ``max_messages`` visible messages, hiding them for the visibility timeout.

    Messages past the queue's MaxReceiveCount move to its dead-letter queue instead of being returned.
    """
    name = _queue_name(deps, name)
    meta = _meta(deps, account_id, name)
    if not 1 <= max_messages <= 10000:
        raise InvalidParameterValueException("MaxNumberOfMessages must be between 1 and 10000.")
    vt = meta["visibility_timeout_s"] if visibility_timeout_s is None else int(visibility_timeout_s)
    dlq = meta.get("dead_letter") or ""
    keys = [_k(account_id, name, "m"), _k(account_id, name, "v"), _k(account_id, name, "h"),
            _k(account_id, dlq, "m") if dlq else "", _k(account_id, dlq, "v") if dlq else ""]
    now = int(time.time() * 1000)
    out = _scripts(deps.redis)["receive"](
        keys=keys,
        args=[now, max_messages, vt * 1000, meta.get("max_receive_count") or 0, secrets.token_hex(8)],
    )
    messages = []
    for i in range(0, len(out), 2):
        msg = json.loads(out[i])
        messages.append(Message(
            message_id=msg["id"], receipt_handle=out[i + 1].decode(), body=msg["body"], md5=msg["md5"],
            sent_ms=int(msg["sent"]), receive_count=int(msg["rc"]), first_receive_ms=int(msg["first"]),
        ))
    return messages


def _handle_id(receipt_handle: str) -> str:
    message_id = receipt_handle.split(":", 1)[0]
    if not message_id:
        raise InvalidParameterValueException(f"The receipt handle {receipt_handle!r} is not valid.")
    return message_id


def delete_message(deps: Deps, account_id: str, name: str, receipt_handle: str) -> bool:
    """Delete the message ``receipt_handle`` was issued for; False if that handle is no longer current."""
    name = _queue_name(deps, name)
    keys = [_k(account_id, name, p) for p in ("m", "v", "h")]
    return bool(_scripts(deps.redis)["delete"](keys=keys, args=[_handle_id(receipt_handle), receipt_handle]))


def change_visibility(deps: Deps, account_id: str, name: str, receipt_handle: str, timeout_s: float) -> bool:
    """Make the message visible again after ``timeout_s`` (0 = now); False if the handle is stale."""
    name = _queue_name(deps, name)
    keys = [_k(account_id, name, p) for p in ("m", "v", "h")]
    at = int((time.time() + timeout_s) * 1000)
    return bool(_scripts(deps.redis)["release"](keys=keys, args=[_handle_id(receipt_handle), receipt_handle, at]))
