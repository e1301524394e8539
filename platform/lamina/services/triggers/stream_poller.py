"""Kinesis stream event sources: each shard read in order, one batch in flight per shard and slot.

``poll_shard`` runs one round for one shard of a mapping under a Redis lease (so that any number of
worker processes never deliver a shard twice at once): it reads up to BatchSize × ParallelizationFactor
records after the shard's checkpoint, splits them into slots by the MD5 of the partition key (records of
one key stay in one slot, in order), and delivers each slot's batch concurrently as Kinesis's Lambda
event. When every batch succeeded the checkpoint moves past the records read. When one failed:

* with ``ReportBatchItemFailures``, the function's ``batchItemFailures`` name the failed sequence
  numbers: the batch failed from the lowest of them;
* with ``BisectBatchOnFunctionError``, a failing batch is split in two and each half retried, down to
  the failing record (splitting does not count as a retry, as on Lambda);
* the checkpoint stays before the first failed record and the round is retried, with back-off, up to
  ``MaximumRetryAttempts`` (-1: until the records expire); then the failed records' batch description
  goes to ``DestinationConfig.OnFailure`` (an SQS queue) and the shard moves on. Records older than
  ``MaximumRecordAgeInSeconds`` are skipped the same way (condition ``RecordAgeExceeded``).

Records that no FilterCriteria pattern matches are skipped (the checkpoint moves past them). Each
round records the shard's iterator age (milliseconds between now and the oldest record not yet
delivered) for ``/metrics``.

Keys (under ``lamina:esm:<uuid>:``): ``cp`` hash shard -> checkpoint (Redis entry id), ``tries`` hash
shard -> failed rounds, ``next`` hash shard -> earliest next round (epoch s), ``age`` hash shard ->
iterator age (ms), ``lease:<shard>`` the round's lease.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lamina.errors import LambdaError, ResourceNotFoundException
from lamina.services.common import Deps
from lamina.services.invoke.requests import InvocationRequest, Invokes
from lamina.services.queues import messages, queues
from lamina.services.streams import streams
from lamina.services.streams.streams import Record, Shard, StreamRecord
from lamina.services.triggers import filters
from lamina.services.triggers.outcomes import PollResult
from lamina.store import queries

if TYPE_CHECKING:
    from lamina.services.triggers.event_sources import MappingRecord

log = logging.getLogger(__name__)

LEASE_S = 60  # a round's lease; renewed to the function's timeout + LEASE_MARGIN_S before each invoke
LEASE_MARGIN_S = 30
MAX_BACKOFF_S = 5.0
LONG_POLL_MS = 1000  # how long a round on a shard with nothing new waits for a record
_END = "18446744073709551615"


@dataclass(frozen=True)
class Delivery:
    """What every invoke of one round shares: the function's role, and the lease to renew before each."""

    role: str
    lease: str
    lease_s: int

    def renew(self, deps: Deps) -> None:
        # A killed poller's shard is free again at most one function timeout (+ margin) later.
        deps.redis.expire(self.lease, self.lease_s)


@dataclass(frozen=True)
class Failure:
    """A slot's batch failed from ``start`` (an index into the batch) on."""

    start: int
    error: str | None  # the function error, or None for an invoke that failed before running
    status: int


def _key(mapping_uuid: str, part: str) -> str:
    return f"lamina:esm:{mapping_uuid}:{part}"


def _stream_of(deps: Deps, mapping: MappingRecord) -> StreamRecord:
    owner, name = streams.parse_arn(deps, mapping.event_source_arn)
    return streams.load(deps, owner, name)


def _start_of(deps: Deps, mapping: MappingRecord, stream: StreamRecord, shard: Shard) -> str:
    """The checkpoint a shard starts from: the entry id after which the mapping reads first."""
    position = mapping.options.starting_position
    if position == "AT_TIMESTAMP":
        return f"{max(int((mapping.options.starting_position_timestamp or 0) * 1000) - 1, 0)}-{_END}"
    if position == "LATEST":
        last: Any = deps.redis.xrevrange(streams.shard_key(stream.account_id, stream.name, shard.shard_id), count=1)
        now = f"{int(time.time() * 1000) - 1}-{_END}"
        return last[0][0].decode() if last else now
    return "0-0"


def start_positions(deps: Deps, mapping: MappingRecord) -> None:
    """Fix each shard's starting checkpoint when the mapping is created (LATEST means after now)."""
    stream = _stream_of(deps, mapping)
    for shard in stream.shards:
        deps.redis.hsetnx(_key(mapping.uuid, "cp"), shard.shard_id, _start_of(deps, mapping, stream, shard))


def forget(deps: Deps, mapping: MappingRecord) -> None:
    deps.redis.delete(*(_key(mapping.uuid, p) for p in ("cp", "tries", "next", "age")))


def shard_ids(deps: Deps, mapping: MappingRecord) -> list[str]:
    try:
        return [s.shard_id for s in _stream_of(deps, mapping).shards]
    except ResourceNotFoundException:
        return []


def iterator_ages(deps: Deps, mapping_uuid: str) -> dict[str, int]:
    raw: Any = deps.redis.hgetall(_key(mapping_uuid, "age"))
    return {k.decode(): int(v) for k, v in raw.items()}


def iterator_age_text(r: Any) -> bytes:
    """Prometheus text of every stream mapping's iterator age per shard (read from Redis at scrape time)."""
    lines = ["# HELP lamina_esm_iterator_age_milliseconds Age of the oldest stream record a mapping has not "
             "delivered yet", "# TYPE lamina_esm_iterator_age_milliseconds gauge"]
    for key in sorted(r.scan_iter(match="lamina:esm:*:age", count=500)):
        mapping_uuid = key.decode().split(":")[2]
        for shard, age in sorted(r.hgetall(key).items()):
            lines.append(f'lamina_esm_iterator_age_milliseconds{{mapping="{mapping_uuid}",shard="{shard.decode()}"}} '
                         f"{int(age)}")
    return ("\n".join(lines) + "\n").encode()


def kinesis_record(deps: Deps, mapping: MappingRecord, shard: Shard, rec: Record, role: str) -> dict[str, Any]:
    """One record as Kinesis's Lambda event record."""
    return {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": rec.partition_key,
                    "sequenceNumber": rec.sequence_number, "data": base64.b64encode(rec.data).decode(),
                    "approximateArrivalTimestamp": rec.arrival_ms / 1000},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"{shard.shard_id}:{rec.sequence_number}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role, "awsRegion": deps.settings.region, "eventSourceARN": mapping.event_source_arn,
    }


def _function_of(deps: Deps, mapping: MappingRecord) -> tuple[str, int]:
    """(role, timeout s) of the mapping's function."""
    account = mapping.function_arn.split(":")[4]
    with deps.sessions() as session:
        fn = queries.get_function(session, account, mapping.function_name)
        return (fn.role, fn.timeout) if fn is not None else ("", 900)


def poll_shard(deps: Deps, invoker: Invokes, mapping: MappingRecord, shard_id: str) -> PollResult:
    """One round for one shard (see the module docstring); ``busy`` if another poller holds the shard."""
    lease = _key(mapping.uuid, f"lease:{shard_id}")
    token = secrets.token_hex(8)
    if not deps.redis.set(lease, token, nx=True, ex=LEASE_S):
        return PollResult(0, 0, "busy")
    try:
        return _round(deps, invoker, mapping, shard_id, lease)
    finally:
        deps.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end",
                        1, lease, token)


def _round(deps: Deps, invoker: Invokes, mapping: MappingRecord, shard_id: str, lease: str) -> PollResult:
    opts = mapping.options
    try:
        stream = _stream_of(deps, mapping)
    except ResourceNotFoundException:
        return PollResult(0, 0, "gone")
    shard = next((s for s in stream.shards if s.shard_id == shard_id), None)
    if shard is None:
        return PollResult(0, 0, "gone")
    due: Any = deps.redis.hget(_key(mapping.uuid, "next"), shard_id)
    if due is not None and time.time() < float(due):
        return PollResult(0, 0, "backoff")
    raw_cp: Any = deps.redis.hget(_key(mapping.uuid, "cp"), shard_id)
    checkpoint = raw_cp.decode() if raw_cp is not None else _start_of(deps, mapping, stream, shard)
    slots = opts.parallelization_factor
    records, _, _ = streams.read(deps, stream, shard, checkpoint, mapping.batch_size * slots)
    if not records:
        # Wait for the next record (XREAD BLOCK wakes as it is written): delivery without a polling delay.
        deps.redis.xread({streams.shard_key(stream.account_id, stream.name, shard_id): checkpoint}, count=1,
                         block=LONG_POLL_MS)
        records, _, _ = streams.read(deps, stream, shard, checkpoint, mapping.batch_size * slots)
    now_ms = int(time.time() * 1000)
    deps.redis.hset(_key(mapping.uuid, "age"), shard_id, now_ms - records[0].arrival_ms if records else 0)
    if not records:
        return PollResult(0, 0, "empty")
    if mapping.maximum_batching_window_s and len(records) < mapping.batch_size \
            and now_ms - records[0].arrival_ms < mapping.maximum_batching_window_s * 1000:
        return PollResult(0, 0, "waiting")  # the batching window is still open
    role, timeout = _function_of(deps, mapping)
    delivery = Delivery(role, lease, timeout + LEASE_MARGIN_S)
    if opts.maximum_record_age_s != -1:
        too_old = [r for r in records if now_ms - r.arrival_ms > opts.maximum_record_age_s * 1000]
        if too_old:
            _to_destination(deps, mapping, stream, shard, too_old, "RecordAgeExceeded", 0, None)
            _advance(deps, mapping, shard_id, too_old[-1])
            return PollResult(len(too_old), 0, "expired")
    batches = _slot_batches(records, slots, mapping.batch_size)
    considered = [r for batch in batches for r in batch]
    last = max(considered, key=lambda r: int(r.sequence_number))
    patterns = opts.patterns()
    events = [[r for r in batch if filters.matches(patterns, filters.kinesis_view(
        kinesis_record(deps, mapping, shard, r, role), r.data))] for batch in batches]
    if not any(events):
        _advance(deps, mapping, shard_id, last)
        return PollResult(len(considered), 0, "filtered")
    if len(events) == 1:
        failures = [_deliver(deps, invoker, mapping, shard, events[0], delivery)]
    else:
        with ThreadPoolExecutor(max_workers=len(events), thread_name_prefix="lamina-shard") as pool:
            failures = list(pool.map(lambda b: _deliver(deps, invoker, mapping, shard, b, delivery), events))
    failed = [(batch, f) for batch, f in zip(events, failures, strict=True) if f is not None]
    if not failed:
        _advance(deps, mapping, shard_id, last)
        return PollResult(len(considered), len(considered), "success")
    tries = int(deps.redis.hincrby(_key(mapping.uuid, "tries"), shard_id, 1))
    if opts.maximum_retry_attempts != -1 and tries > opts.maximum_retry_attempts:
        for batch, f in failed:
            _to_destination(deps, mapping, stream, shard, batch[f.start:], "RetryAttemptsExhausted", tries, f)
        _advance(deps, mapping, shard_id, last)
        return PollResult(len(considered), len(considered), "discarded")
    # Retry from the earliest failed record: everything before it is done.
    first_failed = min((batch[f.start] for batch, f in failed), key=lambda r: int(r.sequence_number))
    done = [r for r in considered if int(r.sequence_number) < int(first_failed.sequence_number)]
    if done:
        deps.redis.hset(_key(mapping.uuid, "cp"), shard_id, _entry(max(done, key=lambda r: int(r.sequence_number))))
    deps.redis.hset(_key(mapping.uuid, "next"), shard_id, time.time() + min(MAX_BACKOFF_S, 0.1 * 2 ** (tries - 1)))
    return PollResult(len(considered), len(done), "function_error")


def _entry(rec: Record) -> str:
    return streams.entry_id_of(rec.sequence_number)[1]


def _advance(deps: Deps, mapping: MappingRecord, shard_id: str, last: Record) -> None:
    pipe = deps.redis.pipeline()
    pipe.hset(_key(mapping.uuid, "cp"), shard_id, _entry(last))
    pipe.hdel(_key(mapping.uuid, "tries"), shard_id)
    pipe.hdel(_key(mapping.uuid, "next"), shard_id)
    pipe.execute()


def _slot_batches(records: Sequence[Record], slots: int, batch_size: int) -> list[list[Record]]:
    """Records split by partition key into at most ``slots`` batches of at most ``batch_size``, in order;
    reading stops at the first record whose slot is full, so no key's later record overtakes it."""
    if slots == 1:
        return [list(records[:batch_size])]
    batches: dict[int, list[Record]] = {}
    for rec in records:
        slot = int(hashlib.md5(rec.partition_key.encode()).hexdigest(), 16) % slots  # noqa: S324 - not security
        batch = batches.setdefault(slot, [])
        if len(batch) == batch_size:
            break
        batch.append(rec)
    return [batches[k] for k in sorted(batches)]


def _deliver(deps: Deps, invoker: Invokes, mapping: MappingRecord, shard: Shard, batch: list[Record],
             delivery: Delivery) -> Failure | None:
    """Invoke the function with ``batch``; None if every record was handled, else where it failed."""
    if not batch:
        return None
    event = {"Records": [kinesis_record(deps, mapping, shard, r, delivery.role) for r in batch]}
    delivery.renew(deps)
    try:
        result = invoker.invoke(InvocationRequest(
            account_id=mapping.function_arn.split(":")[4], function_name=mapping.function_name,
            qualifier=mapping.qualifier, payload=json.dumps(event).encode(), request_id=str(uuid.uuid4()),
        ))
    except LambdaError as err:
        return Failure(0, None, err.status)
    if result.function_error:
        if mapping.options.bisect_batch_on_function_error and len(batch) > 1:
            half = len(batch) // 2
            left = _deliver(deps, invoker, mapping, shard, batch[:half], delivery)
            if left is not None:
                return left
            right = _deliver(deps, invoker, mapping, shard, batch[half:], delivery)
            return None if right is None else Failure(half + right.start, right.error, right.status)
        return Failure(0, result.function_error, result.status)
    if "ReportBatchItemFailures" in mapping.function_response_types:
        return _reported(result.payload, batch, result.status)
    return None


def _reported(payload: bytes, batch: list[Record], status: int) -> Failure | None:
    """Where ``batchItemFailures`` says the batch failed (its lowest sequence number); an answer naming
    records outside the batch fails it whole, as on Lambda."""
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return Failure(0, "InvalidResponse", status)
    items = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if not items:
        return None
    index = {r.sequence_number: i for i, r in enumerate(batch)}
    positions = []
    for item in items if isinstance(items, list) else [None]:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if ident not in index:
            return Failure(0, "InvalidResponse", status)
        positions.append(index[ident])
    return Failure(min(positions), "ReportedFailure", status)


def _to_destination(deps: Deps, mapping: MappingRecord, stream: StreamRecord, shard: Shard,
                    records: Sequence[Record], condition: str, invokes: int, failure: Failure | None) -> None:
    """Send Lambda's on-failure record for ``records`` to the mapping's destination queue (if it has one)."""
    target = mapping.options.on_failure
    if not target or not records:
        log.warning("mapping %s: %d record(s) of %s skipped (%s)", mapping.uuid, len(records), shard.shard_id,
                    condition)
        return
    account, name = queues.parse_any_arn(deps, target)

    def stamp(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    body = {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": mapping.function_arn,
                           "condition": condition, "approximateInvokeCount": invokes},
        "responseContext": {"statusCode": failure.status if failure else 0,
                            "executedVersion": mapping.qualifier or "$LATEST",
                            "functionError": failure.error if failure and failure.error else ""},
        "version": "1.0", "timestamp": stamp(int(time.time() * 1000)),
        "KinesisBatchInfo": {
            "shardId": shard.shard_id, "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": stamp(records[0].arrival_ms),
            "approximateArrivalOfLastRecord": stamp(records[-1].arrival_ms),
            "batchSize": len(records), "streamArn": stream.arn,
        },
    }
    try:
        queue = queues.load(deps, account, name)
        messages.send(deps, queue, [messages.Outgoing(json.dumps(body))], sender="lambda.amazonaws.com")
    except LambdaError:
        log.exception("mapping %s: cannot deliver to its on-failure destination %s", mapping.uuid, target)
