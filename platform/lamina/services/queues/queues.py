"""Queues: SQS's queues kept in Redis, served by the SQS API and by lamina's own queue API alike.

A queue's settings are SQS's attributes (``QueueSettings``), kept as one JSON document per queue in the
account's index hash; its messages live beside it (``lamina.services.queues.messages``). Queue names
follow SQS: 1 to 80 of ``[A-Za-z0-9_-]``, a FIFO queue's ending in ``.fifo``.

Keys (all under ``lamina:sqs:<account>:``)::

    queues          hash  name -> queue settings (JSON)
    <name>:m / :v / :h / :s / :d:*   the queue's messages (see ``messages``)
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lamina.errors import InvalidParameterValueException
from lamina.services.common import Deps
from lamina.services.iam import resource_policies
from lamina.services.queues.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    QueueDoesNotExist,
    QueueNameExists,
)

NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,80}|[a-zA-Z0-9_-]{1,75}\.fifo")
ARN_RE = re.compile(r"arn:aws[a-zA-Z-]*:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[a-zA-Z0-9_.-]{1,80})")
DEFAULT_VISIBILITY_S = 30
MAX_MESSAGE_BYTES = 256 * 1024
MAX_TAGS = 50
# Attributes SQS has that lamina refuses rather than accept and ignore (lamina does not encrypt queues
# at rest, keeps no redrive-allow policy and runs no FIFO high-throughput mode).
UNSUPPORTED = {"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "RedriveAllowPolicy"}
READ_ONLY = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"}

# KEYS: v h; ARGV: now. {visible, in flight, delayed}
_COUNTS = """
local now = tonumber(ARGV[1])
local visible = redis.call('ZCOUNT', KEYS[1], '-inf', now)
local inflight, delayed = 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  if redis.call('HEXISTS', KEYS[2], id) == 1 then inflight = inflight + 1 else delayed = delayed + 1 end
end
return {visible, inflight, delayed}
"""


@dataclass(frozen=True)
class QueueSettings:
    """A queue's SQS attributes, validated."""

    visibility_timeout_s: int = DEFAULT_VISIBILITY_S
    delay_s: int = 0
    retention_s: int = 345600
    wait_s: int = 0
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_receive_count: int | None = None
    dead_letter: str | None = None  # queue name in the same account
    fifo: bool = False
    content_dedup: bool = False
    dedup_scope: str = "queue"
    throughput_limit: str = "perQueue"
    sse: bool = False  # SqsManagedSseEnabled: Redis is lamina's at-rest store; reported, not a cipher
    policy: str | None = None


@dataclass(frozen=True)
class QueueRecord:
    name: str
    account_id: str
    arn: str
    settings: QueueSettings
    created: float
    modified: float
    tags: dict[str, str] = field(default_factory=dict)
    visible: int = 0
    not_visible: int = 0
    delayed: int = 0

    # Shortcuts lamina's own queue API and the event sources use.
    @property
    def visibility_timeout_s(self) -> int:
        return self.settings.visibility_timeout_s

    @property
    def max_receive_count(self) -> int | None:
        return self.settings.max_receive_count

    @property
    def dead_letter(self) -> str | None:
        return self.settings.dead_letter

    @property
    def fifo(self) -> bool:
        return self.settings.fifo


def key(account_id: str, name: str, part: str) -> str:
    return f"lamina:sqs:{account_id}:{name}:{part}"


def _index(account_id: str) -> str:
    return f"lamina:sqs:{account_id}:queues"


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


def parse_arn(deps: Deps, arn: str) -> str:
    """The queue name in ``arn`` (a queue of this region and the configured account); else an error."""
    return parse_any_arn(deps, arn)[1]


def parse_any_arn(deps: Deps, arn: str) -> tuple[str, str]:
    """(account, name) of queue ARN ``arn`` of this region."""
    m = ARN_RE.fullmatch(arn or "")
    if m is None or not NAME_RE.fullmatch(m["name"]):
        raise InvalidParameterValue(f"Invalid queue ARN: {arn}")
    if m["region"] != deps.settings.region:
        raise QueueDoesNotExist(f"The queue {arn} does not exist.")
    return m["account"], m["name"]


def check_name(value: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length "
            "(a FIFO queue's name ends in .fifo)."
        )
    return value


def resolve_name(deps: Deps, value: str) -> str:
    """A queue given by name or ARN."""
    if isinstance(value, str) and value.startswith("arn:"):
        return parse_arn(deps, value)
    return check_name(value)


def _int(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.") from None
    if not low <= number <= high:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}: must be between {low} and {high}.")
    return number


def _bool(name: str, value: Any) -> bool:
    text = str(value).lower()
    if text not in ("true", "false"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}: must be true or false.")
    return text == "true"


def apply_attributes(deps: Deps, account_id: str, name: str, base: QueueSettings, attrs: dict[str, Any],
                     creating: bool) -> QueueSettings:
    """``base`` with SQS attributes ``attrs`` applied (each validated as SQS does)."""
    if not isinstance(attrs, dict):
        raise InvalidParameterValue("Attributes must be a map of attribute name to value.")
    changes: dict[str, Any] = {}
    for attr, value in attrs.items():
        if attr in UNSUPPORTED:
            raise InvalidAttributeName(f"The attribute {attr} is not supported by lamina.")
        if attr in READ_ONLY:
            raise InvalidAttributeName(f"The attribute {attr} is read-only.")
        if attr == "VisibilityTimeout":
            changes["visibility_timeout_s"] = _int(attr, value, 0, 43200)
        elif attr == "DelaySeconds":
            changes["delay_s"] = _int(attr, value, 0, 900)
        elif attr == "MessageRetentionPeriod":
            changes["retention_s"] = _int(attr, value, 60, 1209600)
        elif attr == "ReceiveMessageWaitTimeSeconds":
            changes["wait_s"] = _int(attr, value, 0, 20)
        elif attr == "MaximumMessageSize":
            changes["max_message_bytes"] = _int(attr, value, 1024, MAX_MESSAGE_BYTES)
        elif attr == "RedrivePolicy":
            changes.update(_redrive(deps, account_id, name, value))
        elif attr == "FifoQueue":
            if not creating:
                raise InvalidAttributeName("FifoQueue can only be set when the queue is created.")
            changes["fifo"] = _bool(attr, value)
        elif attr == "ContentBasedDeduplication":
            changes["content_dedup"] = _bool(attr, value)
        elif attr == "DeduplicationScope":
            if value not in ("queue", "messageGroup"):
                raise InvalidAttributeValue("DeduplicationScope must be queue or messageGroup.")
            changes["dedup_scope"] = value
        elif attr == "FifoThroughputLimit":
            if value not in ("perQueue", "perMessageGroupId"):
                raise InvalidAttributeValue("FifoThroughputLimit must be perQueue or perMessageGroupId.")
            changes["throughput_limit"] = value
        elif attr == "SqsManagedSseEnabled":
            changes["sse"] = _bool(attr, value)
        elif attr == "Policy":
            try:
                changes["policy"] = resource_policies.validate(value, "the parameter Policy")
            except InvalidParameterValueException as err:
                raise InvalidAttributeValue(err.message) from None
        else:
            raise InvalidAttributeName(f"Unknown Attribute {attr}.")
    settings = replace(base, **changes)
    fifo_only = {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"} & set(attrs)
    if fifo_only and not settings.fifo:
        raise InvalidAttributeName(f"{sorted(fifo_only)[0]} is only valid for FIFO queues.")
    if settings.fifo != name.endswith(".fifo"):
        raise InvalidParameterValue("The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                                    "or underscores, must end with .fifo suffix and be 1 to 80 in length."
                                    if settings.fifo else "Only FIFO queues may have a name ending in .fifo "
                                    "(set FifoQueue to true).")
    if settings.dead_letter is not None:
        dlq = load(deps, account_id, settings.dead_letter)
        if dlq.fifo != settings.fifo:
            raise InvalidParameterValue("The dead-letter queue of a FIFO queue must be a FIFO queue, and of a "
                                        "standard queue a standard queue.")
    return settings


def _redrive(deps: Deps, account_id: str, name: str, value: Any) -> dict[str, Any]:
    if value in ("", None):
        return {"dead_letter": None, "max_receive_count": None}
    try:
        policy = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise InvalidAttributeValue("Invalid value for the parameter RedrivePolicy: not JSON.") from None
    if not isinstance(policy, dict) or set(policy) - {"deadLetterTargetArn", "maxReceiveCount"} \
            or "deadLetterTargetArn" not in policy or "maxReceiveCount" not in policy:
        raise InvalidAttributeValue("Value for parameter RedrivePolicy is invalid. Reason: Redrive policy "
                                    "needs deadLetterTargetArn and maxReceiveCount.")
    owner, dlq = parse_any_arn(deps, str(policy["deadLetterTargetArn"]))
    if owner != account_id:
        raise InvalidAttributeValue("The dead-letter queue must be in the same account as the queue.")
    if dlq == name:
        raise InvalidAttributeValue("A queue cannot be its own dead-letter queue.")
    load(deps, account_id, dlq)
    return {"dead_letter": dlq, "max_receive_count": _int("maxReceiveCount", policy["maxReceiveCount"], 1, 1000)}


def _meta(deps: Deps, account_id: str, name: str) -> dict[str, Any]:
    raw = deps.redis.hget(_index(account_id), name)
    if raw is None:
        raise QueueDoesNotExist(
            f"The queue {queue_arn(deps.settings.region, account_id, name)} does not exist."
            if NAME_RE.fullmatch(name) else "The specified queue does not exist."
        )
    return json.loads(raw)


def _settings_of(meta: dict[str, Any]) -> QueueSettings:
    known = QueueSettings.__dataclass_fields__
    # Queues written before the SQS API kept three settings at the top level.
    stored = meta.get("settings") or {k: meta.get(k) for k in ("visibility_timeout_s", "max_receive_count",
                                                              "dead_letter") if meta.get(k) is not None}
    return QueueSettings(**{k: v for k, v in stored.items() if k in known})


def _record(deps: Deps, account_id: str, meta: dict[str, Any], with_counts: bool = True) -> QueueRecord:
    name = meta["name"]
    visible = not_visible = delayed = 0
    if with_counts:
        visible, not_visible, delayed = counts(deps, account_id, name)
    return QueueRecord(
        name=name, account_id=account_id, arn=queue_arn(deps.settings.region, account_id, name),
        settings=_settings_of(meta), created=float(meta["created"]),
        modified=float(meta.get("modified", meta["created"])), tags=dict(meta.get("tags", {})),
        visible=visible, not_visible=not_visible, delayed=delayed,
    )


def load(deps: Deps, account_id: str, name: str, with_counts: bool = False) -> QueueRecord:
    """Queue ``name`` of the account (without message counts unless asked); QueueDoesNotExist if none."""
    return _record(deps, account_id, _meta(deps, account_id, name), with_counts=with_counts)


def create(deps: Deps, account_id: str, name: str, attributes: dict[str, Any] | None = None,
           tags: dict[str, str] | None = None) -> QueueRecord:
    """Create queue ``name`` with SQS attributes; creating it again with the same given attributes returns
    it (as SQS does); with other values it is QueueNameExists."""
    name = check_name(name)
    attributes = attributes or {}
    if name.endswith(".fifo") and "FifoQueue" not in attributes:
        raise InvalidParameterValue("The name of a FIFO queue needs the attribute FifoQueue set to true.")
    settings = apply_attributes(deps, account_id, name, QueueSettings(), attributes, creating=True)
    tag_map = check_tags(tags or {})
    now = time.time()
    meta = {"name": name, "settings": asdict(settings), "created": now, "modified": now, "tags": tag_map}
    if not deps.redis.hsetnx(_index(account_id), name, json.dumps(meta)):
        existing = _meta(deps, account_id, name)
        have = _settings_of(existing)
        wanted = apply_attributes(deps, account_id, name, have, attributes, creating=True)
        if wanted != have:
            raise QueueNameExists(f"A queue already exists with the same name ({name}) and a different value "
                                  "for an attribute.")
        meta = existing
    return _record(deps, account_id, meta)


def create_queue(deps: Deps, account_id: str, name: str, visibility_timeout_s: int | None = None,
                 max_receive_count: int | None = None, dead_letter: str | None = None) -> QueueRecord:
    """lamina's own API: create with a visibility timeout and a dead-letter queue (by name or ARN)."""
    attrs: dict[str, Any] = {}
    if visibility_timeout_s is not None:
        attrs["VisibilityTimeout"] = visibility_timeout_s
    if dead_letter:
        dlq = resolve_name(deps, dead_letter)
        attrs["RedrivePolicy"] = {"deadLetterTargetArn": queue_arn(deps.settings.region, account_id, dlq),
                                  "maxReceiveCount": max_receive_count or 10}
    elif max_receive_count is not None:
        raise InvalidParameterValue("MaxReceiveCount needs a DeadLetterQueue.")
    if name.endswith(".fifo"):
        attrs["FifoQueue"] = "true"
    return create(deps, account_id, name, attrs)


def set_attributes(deps: Deps, account_id: str, name: str, attributes: dict[str, Any]) -> QueueRecord:
    meta = _meta(deps, account_id, name)
    settings = apply_attributes(deps, account_id, name, _settings_of(meta), attributes, creating=False)
    meta["settings"] = asdict(settings)
    meta["modified"] = time.time()
    _save(deps, account_id, name, meta)
    return _record(deps, account_id, meta, with_counts=False)


def _save(deps: Deps, account_id: str, name: str, meta: dict[str, Any]) -> None:
    # Only if the queue still exists: a concurrent DeleteQueue wins.
    script = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end"
    deps.redis.eval(script, 1, _index(account_id), name, json.dumps(meta))


def check_tags(tags: Any) -> dict[str, str]:
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidParameterValue("Tags must be a map of string keys to string values.")
    for k, v in tags.items():
        if not 1 <= len(k) <= 128 or len(v) > 256 or k.startswith("aws:"):
            raise InvalidParameterValue(f"Invalid tag: {k!r} (keys 1 to 128 characters, values up to 256, "
                                        "no aws: prefix).")
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"A queue has at most {MAX_TAGS} tags.")
    return dict(tags)


def tag(deps: Deps, account_id: str, name: str, tags: dict[str, str]) -> None:
    meta = _meta(deps, account_id, name)
    meta["tags"] = check_tags({**meta.get("tags", {}), **check_tags(tags)})
    _save(deps, account_id, name, meta)


def untag(deps: Deps, account_id: str, name: str, keys: list[str]) -> None:
    meta = _meta(deps, account_id, name)
    meta["tags"] = {k: v for k, v in meta.get("tags", {}).items() if k not in keys}
    _save(deps, account_id, name, meta)


def get_queue(deps: Deps, account_id: str, name: str) -> QueueRecord:
    return _record(deps, account_id, _meta(deps, account_id, resolve_name(deps, name)))


def list_queues(deps: Deps, account_id: str, prefix: str = "", with_counts: bool = True) -> list[QueueRecord]:
    metas = [json.loads(v) for v in deps.redis.hvals(_index(account_id))]
    return [_record(deps, account_id, m, with_counts=with_counts)
            for m in sorted(metas, key=lambda m: m["name"]) if m["name"].startswith(prefix)]


def dead_letter_sources(deps: Deps, account_id: str, name: str) -> list[QueueRecord]:
    _meta(deps, account_id, name)
    return [q for q in list_queues(deps, account_id, with_counts=False) if q.dead_letter == name]


def delete_queue(deps: Deps, account_id: str, name: str) -> None:
    name = resolve_name(deps, name)
    _meta(deps, account_id, name)
    deps.redis.hdel(_index(account_id), name)
    drop_all(deps, account_id, name)


def purge_queue(deps: Deps, account_id: str, name: str) -> None:
    name = resolve_name(deps, name)
    _meta(deps, account_id, name)
    drop_all(deps, account_id, name, keep_dedup=True)


def exists(deps: Deps, account_id: str, name: str) -> bool:
    return bool(deps.redis.hexists(_index(account_id), name))


def counts(deps: Deps, account_id: str, name: str) -> tuple[int, int, int]:
    """(visible, in flight, delayed) messages of queue ``name``."""
    out = deps.redis.register_script(_COUNTS)(keys=[key(account_id, name, "v"), key(account_id, name, "h")],
                                         args=[int(time.time() * 1000)])
    return int(out[0]), int(out[1]), int(out[2])


def drop_all(deps: Deps, account_id: str, name: str, keep_dedup: bool = False) -> None:
    """Delete every message of queue ``name`` (and, unless ``keep_dedup``, its deduplication window)."""
    parts = ["m", "v", "h", "s"] + ([] if keep_dedup else ["n"])
    deps.redis.delete(*(key(account_id, name, p) for p in parts))
    if not keep_dedup:
        for k in deps.redis.scan_iter(match=key(account_id, name, "d:*"), count=500):
            deps.redis.delete(k)
