"""Kinesis data streams on Redis Streams: one Redis stream per shard.

A record goes to the shard whose hash-key range holds the MD5 of its partition key (read as a 128-bit
integer), or its ExplicitHashKey, as Kinesis does; the ranges split 0..2^128-1 evenly. Within a shard
the Redis entry id (milliseconds, counter) orders records, and a record's sequence number spells it in
decimal after the shard's index, so sequence numbers increase per shard and compare as integers.
Retention is enforced on every write (entries older than the retention period are trimmed) and on
every read (they are never returned). A shard iterator is a signed token naming the shard and the
position after which to read; it expires after five minutes, as Kinesis's do.

Keys (all under ``lamina:kinesis:<account>:``)::

    streams                 hash    name -> stream (JSON: shards, retention, mode, tags, created)
    <name>:<shard id>       stream  the shard's records (fields p: partition key, d: data, h: hash key)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.services.common import Deps
from lamina.services.streams.errors import ExpiredIterator, InvalidArgument, LimitExceeded, StreamInUse, StreamNotFound

NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
ARN_RE = re.compile(r"arn:aws[a-zA-Z-]*:kinesis:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stream/(?P<name>[^/]+)")
HASH_SPACE = 2**128
MAX_SHARDS = 64
ON_DEMAND_SHARDS = 4
MAX_RECORD_BYTES = 1024 * 1024
MAX_PUT_RECORDS = 500
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
MAX_GET_RECORDS = 10000
ITERATOR_TTL_S = 300
DEFAULT_RETENTION_H = 24
SEQUENCE_PREFIX = "49"


@dataclass(frozen=True)
class Shard:
    shard_id: str
    index: int
    start_hash: int
    end_hash: int
    starting_sequence: str


@dataclass(frozen=True)
class StreamRecord:
    name: str
    account_id: str
    arn: str
    shards: tuple[Shard, ...]
    retention_hours: int
    mode: str
    created: float
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "ACTIVE"
    policy: str | None = None  # a resource policy (PutResourcePolicy): other accounts' access


@dataclass(frozen=True)
class Record:
    sequence_number: str
    partition_key: str
    data: bytes
    arrival_ms: int


@dataclass(frozen=True)
class Put:
    shard_id: str
    sequence_number: str


def _index(account_id: str) -> str:
    return f"lamina:kinesis:{account_id}:streams"


def shard_key(account_id: str, name: str, shard_id: str) -> str:
    return f"lamina:kinesis:{account_id}:{name}:{shard_id}"


def stream_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account_id}:stream/{name}"


def parse_arn(deps: Deps, arn: str) -> tuple[str, str]:
    """(account, name) of stream ARN ``arn`` of this region."""
    m = ARN_RE.fullmatch(arn or "")
    if m is None or not NAME_RE.fullmatch(m["name"]):
        raise InvalidArgument(f"Invalid stream ARN: {arn}")
    if m["region"] != deps.settings.region:
        raise StreamNotFound(f"Stream {m['name']} under account {m['account']} not found.")
    return m["account"], m["name"]


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidArgument("StreamName must be 1 to 128 characters of [a-zA-Z0-9_.-].")
    return name


# -- sequence numbers


def sequence_of(shard_index: int, entry_id: str) -> str:
    ms, _, counter = entry_id.partition("-")
    return f"{SEQUENCE_PREFIX}{shard_index:06d}{int(ms):020d}{int(counter):010d}"


def entry_id_of(sequence: str) -> tuple[int, str]:
    """(shard index, Redis entry id) of a sequence number; InvalidArgument if it is not one of ours."""
    if not re.fullmatch(r"\d{38}", sequence or "") or not sequence.startswith(SEQUENCE_PREFIX):
        raise InvalidArgument(f"StartingSequenceNumber {sequence} used in GetShardIterator on shard is invalid.")
    return int(sequence[2:8]), f"{int(sequence[8:28])}-{int(sequence[28:])}"


# -- streams


def _shards(count: int, created_ms: int) -> list[dict[str, Any]]:
    step = HASH_SPACE // count
    out = []
    for i in range(count):
        end = HASH_SPACE - 1 if i == count - 1 else (i + 1) * step - 1
        out.append({"id": f"shardId-{i:012d}", "index": i, "start": str(i * step), "end": str(end),
                    "seq": sequence_of(i, f"{created_ms}-0")})
    return out


def _meta(deps: Deps, account_id: str, name: str) -> dict[str, Any]:
    raw = deps.redis.hget(_index(account_id), name)
    if raw is None:
        raise StreamNotFound(f"Stream {name} under account {account_id} not found.")
    return json.loads(raw)


def _record(deps: Deps, account_id: str, meta: dict[str, Any]) -> StreamRecord:
    return StreamRecord(
        name=meta["name"], account_id=account_id, arn=stream_arn(deps.settings.region, account_id, meta["name"]),
        shards=tuple(Shard(s["id"], int(s["index"]), int(s["start"]), int(s["end"]), s["seq"])
                     for s in meta["shards"]),
        retention_hours=int(meta["retention_h"]), mode=meta["mode"], created=float(meta["created"]),
        tags=dict(meta.get("tags", {})), policy=meta.get("policy"),
    )


def load(deps: Deps, account_id: str, name: str) -> StreamRecord:
    return _record(deps, account_id, _meta(deps, account_id, check_name(name)))


def create(deps: Deps, account_id: str, name: str, shard_count: int | None, mode: str = "PROVISIONED",
           tags: dict[str, str] | None = None) -> StreamRecord:
    name = check_name(name)
    if mode not in ("PROVISIONED", "ON_DEMAND"):
        raise InvalidArgument("StreamMode must be PROVISIONED or ON_DEMAND.")
    if mode == "ON_DEMAND":
        if shard_count is not None:
            raise InvalidArgument("ShardCount cannot be given for a stream in ON_DEMAND mode.")
        shard_count = ON_DEMAND_SHARDS
    if shard_count is None:
        raise InvalidArgument("ShardCount is required for a stream in PROVISIONED mode.")
    if not 1 <= shard_count <= MAX_SHARDS:
        raise LimitExceeded(f"ShardCount must be between 1 and {MAX_SHARDS} on lamina.")
    now = time.time()
    meta = {"name": name, "shards": _shards(shard_count, int(now * 1000)), "retention_h": DEFAULT_RETENTION_H,
            "mode": mode, "created": now, "tags": dict(tags or {})}
    if not deps.redis.hsetnx(_index(account_id), name, json.dumps(meta)):
        raise StreamInUse(f"Stream {name} under account {account_id} already exists.")
    return _record(deps, account_id, meta)


def delete(deps: Deps, account_id: str, name: str) -> None:
    stream = load(deps, account_id, name)
    pipe = deps.redis.pipeline()
    pipe.hdel(_index(account_id), stream.name)
    pipe.delete(*(shard_key(account_id, stream.name, s.shard_id) for s in stream.shards))
    pipe.execute()


def list_streams(deps: Deps, account_id: str) -> list[StreamRecord]:
    metas = [json.loads(v) for v in deps.redis.hvals(_index(account_id))]
    return [_record(deps, account_id, m) for m in sorted(metas, key=lambda m: m["name"])]


def _update(deps: Deps, account_id: str, name: str, change: dict[str, Any]) -> None:
    meta = _meta(deps, account_id, check_name(name))
    meta.update(change)
    script = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end"
    deps.redis.eval(script, 1, _index(account_id), name, json.dumps(meta))


def set_retention(deps: Deps, account_id: str, name: str, hours: int, increase: bool) -> None:
    stream = load(deps, account_id, name)
    if not 24 <= hours <= 8760:
        raise InvalidArgument("RetentionPeriodHours must be between 24 and 8760.")
    if increase and hours < stream.retention_hours:
        raise InvalidArgument(f"Requested retention period ({hours} hours) for stream {name} can not be shorter "
                              f"than existing retention period ({stream.retention_hours} hours). Use "
                              "DecreaseRetentionPeriod API.")
    if not increase and hours > stream.retention_hours:
        raise InvalidArgument(f"Requested retention period ({hours} hours) for stream {name} can not be longer "
                              f"than existing retention period ({stream.retention_hours} hours). Use "
                              "IncreaseRetentionPeriod API.")
    _update(deps, account_id, name, {"retention_h": hours})


def tag(deps: Deps, account_id: str, name: str, tags: dict[str, str]) -> None:
    stream = load(deps, account_id, name)
    merged = {**stream.tags, **tags}
    if len(merged) > 50:
        raise LimitExceeded("A stream has at most 50 tags.")
    _update(deps, account_id, name, {"tags": merged})


def set_policy(deps: Deps, account_id: str, name: str, policy: str | None) -> None:
    _update(deps, account_id, name, {"policy": policy})


def untag(deps: Deps, account_id: str, name: str, keys: Sequence[str]) -> None:
    stream = load(deps, account_id, name)
    _update(deps, account_id, name, {"tags": {k: v for k, v in stream.tags.items() if k not in keys}})


# -- records


def shard_for(stream: StreamRecord, partition_key: str, explicit_hash_key: str | None = None) -> Shard:
    if explicit_hash_key is not None:
        if not re.fullmatch(r"0|[1-9]\d{0,38}", explicit_hash_key) or int(explicit_hash_key) >= HASH_SPACE:
            raise InvalidArgument(f"ExplicitHashKey {explicit_hash_key} must be a decimal integer in 0..2^128-1.")
        point = int(explicit_hash_key)
    else:
        point = int(hashlib.md5(partition_key.encode()).hexdigest(), 16)  # noqa: S324 - Kinesis's hash, not security
    return next(s for s in stream.shards if s.start_hash <= point <= s.end_hash)


def _check_record(partition_key: Any, data: bytes) -> str:
    if not isinstance(partition_key, str) or not 1 <= len(partition_key) <= 256:
        raise InvalidArgument("PartitionKey must be 1 to 256 characters.")
    if len(data) + len(partition_key.encode()) > MAX_RECORD_BYTES:
        raise InvalidArgument(f"The data of a record and its partition key must be at most {MAX_RECORD_BYTES} "
                              "bytes.")
    return partition_key


def put_records(deps: Deps, stream: StreamRecord, records: Sequence[tuple[str, bytes, str | None]]) -> list[Put]:
    """Append (partition key, data, explicit hash key) records, in order; all validated first."""
    if not records:
        raise InvalidArgument("Records must hold at least one record.")
    if len(records) > MAX_PUT_RECORDS:
        raise InvalidArgument(f"Records must hold at most {MAX_PUT_RECORDS} records.")
    if sum(len(d) + len(pk.encode()) for pk, d, _ in records) > MAX_PUT_RECORDS_BYTES:
        raise InvalidArgument(f"A PutRecords request must be at most {MAX_PUT_RECORDS_BYTES} bytes.")
    targets = []
    for pk, data, ehk in records:
        _check_record(pk, data)
        targets.append(shard_for(stream, pk, ehk))
    now_ms = int(time.time() * 1000)
    horizon = now_ms - stream.retention_hours * 3600 * 1000
    pipe = deps.redis.pipeline(transaction=False)
    for (pk, data, _ehk), shard in zip(records, targets, strict=True):
        pipe.xadd(shard_key(stream.account_id, stream.name, shard.shard_id), {"p": pk, "d": data})
    for shard_id in {t.shard_id for t in targets}:
        pipe.xtrim(shard_key(stream.account_id, stream.name, shard_id), minid=str(horizon), approximate=False)
    ids = pipe.execute()[: len(records)]
    return [Put(shard.shard_id, sequence_of(shard.index, entry.decode()))
            for shard, entry in zip(targets, ids, strict=True)]


def _shard(stream: StreamRecord, shard_id: str) -> Shard:
    shard = next((s for s in stream.shards if s.shard_id == shard_id), None)
    if shard is None:
        raise StreamNotFound(f"Shard {shard_id} in stream {stream.name} under account {stream.account_id} does not "
                             "exist")
    return shard


def _secret(deps: Deps) -> bytes:
    k = "lamina:kinesis:iterator-secret"
    deps.redis.set(k, secrets.token_hex(32), nx=True)
    value: Any = deps.redis.get(k)
    return bytes(value)


def _token(deps: Deps, body: dict[str, Any]) -> str:
    raw = json.dumps(body, separators=(",", ":")).encode()
    mac = hmac.new(_secret(deps), raw, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + raw).decode()


def _untoken(deps: Deps, token: str) -> dict[str, Any]:
    try:
        blob = base64.urlsafe_b64decode(token.encode())
        mac, raw = blob[:16], blob[16:]
        if not hmac.compare_digest(mac, hmac.new(_secret(deps), raw, hashlib.sha256).digest()[:16]):
            raise ValueError("bad mac")
        body = json.loads(raw)
    except (ValueError, binascii.Error):
        raise InvalidArgument(f"Invalid ShardIterator: {token[:64]}") from None
    if time.time() > float(body["exp"]):
        raise ExpiredIterator(f"Iterator expired. The iterator was created at time {body['at']} while right now it "
                              f"is {time.time()} which is further in the future than the tolerated delay of "
                              f"{ITERATOR_TTL_S * 1000} milliseconds.")
    return body


def shard_iterator(deps: Deps, stream: StreamRecord, shard_id: str, kind: str, sequence: str | None = None,
                   timestamp: float | None = None) -> str:
    """A shard iterator: the position after which GetRecords reads (an exclusive Redis entry id)."""
    shard = _shard(stream, shard_id)
    key = shard_key(stream.account_id, stream.name, shard.shard_id)
    if kind == "TRIM_HORIZON":
        after = "0-0"
    elif kind == "LATEST":
        last: Any = deps.redis.xrevrange(key, count=1)
        after = last[0][0].decode() if last else "0-0"
    elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if not sequence:
            raise InvalidArgument(f"StartingSequenceNumber is required for {kind}.")
        index, entry = entry_id_of(sequence)
        if index != shard.index:
            raise InvalidArgument(f"StartingSequenceNumber {sequence} used in GetShardIterator on shard "
                                  f"{shard_id} in stream {stream.name} is invalid because it did not come from "
                                  "this stream.")
        ms, _, counter = entry.partition("-")
        after = entry if kind == "AFTER_SEQUENCE_NUMBER" else (
            f"{ms}-{int(counter) - 1}" if int(counter) > 0 else f"{int(ms) - 1}-18446744073709551615")
    elif kind == "AT_TIMESTAMP":
        if timestamp is None:
            raise InvalidArgument("Timestamp is required for AT_TIMESTAMP.")
        after = f"{max(int(timestamp * 1000) - 1, 0)}-18446744073709551615"
    else:
        raise InvalidArgument(f"ShardIteratorType {kind} is not one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, "
                              "AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP.")
    return _iterator(deps, stream, shard, after)


def _iterator(deps: Deps, stream: StreamRecord, shard: Shard, after: str) -> str:
    now = time.time()
    return _token(deps, {"a": stream.account_id, "s": stream.name, "h": shard.shard_id, "p": after,
                         "at": int(now * 1000), "exp": now + ITERATOR_TTL_S})


def iterator_stream(deps: Deps, token: str) -> tuple[str, str]:
    """(account, stream name) an iterator reads (to authorize GetRecords before reading)."""
    body = _untoken(deps, token)
    return str(body["a"]), str(body["s"])


def get_records(deps: Deps, token: str, limit: int = MAX_GET_RECORDS) -> tuple[list[Record], str, int]:
    """(records, next iterator, milliseconds behind the shard's latest record) from iterator ``token``."""
    if not 1 <= limit <= MAX_GET_RECORDS:
        raise InvalidArgument(f"Limit must be between 1 and {MAX_GET_RECORDS}.")
    body = _untoken(deps, token)
    stream = load(deps, str(body["a"]), str(body["s"]))
    shard = _shard(stream, str(body["h"]))
    records, last, behind = read(deps, stream, shard, str(body["p"]), limit)
    return records, _iterator(deps, stream, shard, last), behind


def read(deps: Deps, stream: StreamRecord, shard: Shard, after: str, limit: int) -> tuple[list[Record], str, int]:
    """(records after entry ``after`` within retention, the last entry id read, ms behind the latest)."""
    key = shard_key(stream.account_id, stream.name, shard.shard_id)
    horizon = int(time.time() * 1000) - stream.retention_hours * 3600 * 1000
    # Records past the retention period are never returned, even before the trim removes them.
    lower = f"{horizon}-0" if int(after.partition("-")[0]) < horizon else f"({after}"
    entries: Any = deps.redis.xrange(key, min=lower, count=limit)
    records = []
    for entry_id, fields in entries:
        eid = entry_id.decode()
        records.append(Record(sequence_of(shard.index, eid), fields[b"p"].decode(), bytes(fields[b"d"]),
                              int(eid.partition("-")[0])))
        after = eid
    latest: Any = deps.redis.xrevrange(key, count=1)
    behind = 0
    if latest and entries and latest[0][0] != entries[-1][0]:
        behind = max(0, int(time.time() * 1000) - records[-1].arrival_ms)
    return records, after, behind
