"""Event source mappings: queues and streams polled in batches for a function (Lambda's pull model).

CRUD follows Lambda's EventSourceMapping API, for SQS queues and Kinesis streams of lamina; a member
lamina does not implement, or one that does not apply to the source's kind, is refused naming it.
Streams are polled by ``lamina.services.triggers.stream_poller``.

For a queue, ``poll`` takes one batch: it receives up to BatchSize messages (hidden for the queue's
visibility timeout, waiting up to MaximumBatchingWindowInSeconds to fill the batch), invokes the
function synchronously with SQS's event document, and deletes the messages that were handled. A
function error or a throttle deletes nothing: the batch comes back after the visibility timeout, and
a message received more than the queue's MaxReceiveCount times moves to its dead-letter queue.
Messages that no FilterCriteria pattern matches are deleted unseen, as Lambda does;
ScalingConfig.MaximumConcurrency bounds how many batches of one queue are in flight at once. With
``ReportBatchItemFailures`` the function may answer ``{"batchItemFailures": [{"itemIdentifier":
<messageId>}]}``: the others are deleted; an answer naming a message that is not in the batch fails
the whole batch, as in Lambda.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from lamina.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import validate
from lamina.services.iam import policies
from lamina.services.invoke import lineage
from lamina.services.invoke import metrics as invoke_metrics
from lamina.services.invoke.requests import MAX_SYNC_PAYLOAD, InvocationRequest, Invokes
from lamina.services.queues import messages, queues
from lamina.services.records import Page
from lamina.services.streams import streams
from lamina.services.triggers import filters, schedules, stream_poller
from lamina.services.triggers.outcomes import PollResult
from lamina.store import triggers as store
from lamina.store.models import EventSourceMapping

log = logging.getLogger(__name__)

RESPONSE_TYPES = ("ReportBatchItemFailures",)
MAX_PAGE = 100
LONG_POLL_S = 1.0  # how long one poll of an empty queue waits for a message
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
STREAM_ONLY = ("StartingPosition", "StartingPositionTimestamp", "ParallelizationFactor", "BisectBatchOnFunctionError",
               "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "DestinationConfig")


@dataclass(frozen=True)
class MappingOptions:
    """A mapping's settings beyond batch size and window (kept as JSON on its row)."""

    starting_position: str | None = None
    starting_position_timestamp: float | None = None
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    on_failure: str | None = None  # an SQS queue ARN
    maximum_concurrency: int | None = None
    filter_criteria: dict[str, Any] | None = None

    @staticmethod
    def of(raw: dict[str, Any] | None) -> MappingOptions:
        known = MappingOptions.__dataclass_fields__
        return MappingOptions(**{k: v for k, v in (raw or {}).items() if k in known})

    def patterns(self) -> list[dict[str, Any]]:
        return filters.parse(self.filter_criteria)


@dataclass(frozen=True)
class MappingRecord:
    uuid: str
    arn: str
    event_source_arn: str
    function_arn: str
    function_name: str
    qualifier: str | None
    batch_size: int
    maximum_batching_window_s: int
    enabled: bool
    function_response_types: list[str]
    last_modified: datetime
    state: str
    options: MappingOptions = MappingOptions()

    @property
    def source_kind(self) -> str:
        return source_kind(self.event_source_arn)


@dataclass(frozen=True)
class MappingInput:
    function_name: str | None = None
    event_source_arn: str | None = None
    batch_size: int | None = None
    maximum_batching_window_s: int | None = None
    enabled: bool | None = None
    function_response_types: list[str] | None = None
    # Lambda's other members as given (None: not given): validated against the source's kind.
    given: dict[str, Any] = field(default_factory=dict)


def source_kind(arn: str) -> str:
    """``sqs`` or ``kinesis``: which service an event source ARN names."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service not in ("sqs", "kinesis"):
        raise InvalidParameterValueException(
            f"Unsupported event source: {arn} (lamina polls its SQS queues and Kinesis streams)."
        )
    return service


def mapping_arn(region: str, account_id: str, mapping_uuid: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:event-source-mapping:{mapping_uuid}"


def record(deps: Deps, row: EventSourceMapping, fn_name: str, state: str | None = None) -> MappingRecord:
    s = deps.settings
    return MappingRecord(
        uuid=row.uuid, arn=mapping_arn(s.region, row.account_id, row.uuid), event_source_arn=row.event_source_arn,
        function_arn=arns.function_arn(s.region, row.account_id, fn_name, row.qualifier), function_name=fn_name,
        qualifier=row.qualifier, batch_size=row.batch_size, maximum_batching_window_s=row.maximum_batching_window_s,
        enabled=row.enabled, function_response_types=list(row.function_response_types or []),
        last_modified=row.last_modified, state=state or ("Enabled" if row.enabled else "Disabled"),
        options=MappingOptions.of(row.options),
    )


def _options(deps: Deps, account_id: str, kind: str, base: MappingOptions, given: dict[str, Any],
             creating: bool) -> MappingOptions:
    """``base`` with the members in ``given`` applied, each validated for a source of ``kind``."""
    changes: dict[str, Any] = {}
    if kind == "sqs":
        for member in STREAM_ONLY:
            if member in given:
                raise InvalidParameterValueException(f"{member} is not valid for SQS event sources.")
    else:
        if "ScalingConfig" in given:
            raise InvalidParameterValueException("ScalingConfig is only valid for SQS event sources.")
        position = given.get("StartingPosition")
        if creating and position is None:
            raise InvalidParameterValueException("StartingPosition is required for Kinesis event sources.")
        if not creating and position is not None:
            raise InvalidParameterValueException("StartingPosition cannot be updated.")
        if position is not None:
            if position not in STARTING_POSITIONS:
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '{position}' at 'startingPosition' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
                )
            stamp = given.get("StartingPositionTimestamp")
            if (position == "AT_TIMESTAMP") != (stamp is not None):
                raise InvalidParameterValueException(
                    "StartingPositionTimestamp must be given with StartingPosition AT_TIMESTAMP, and only then."
                )
            changes.update(starting_position=position, starting_position_timestamp=stamp)
        if "ParallelizationFactor" in given:
            changes["parallelization_factor"] = validate.int_range(given["ParallelizationFactor"],
                                                                   "parallelizationFactor", 1, 10)
        if "BisectBatchOnFunctionError" in given:
            changes["bisect_batch_on_function_error"] = bool(given["BisectBatchOnFunctionError"])
        if "MaximumRetryAttempts" in given:
            changes["maximum_retry_attempts"] = validate.int_range(given["MaximumRetryAttempts"],
                                                                   "maximumRetryAttempts", -1, 10000)
        if "MaximumRecordAgeInSeconds" in given:
            age = given["MaximumRecordAgeInSeconds"]
            if age != -1:
                validate.int_range(age, "maximumRecordAgeInSeconds", 60, 604800)
            changes["maximum_record_age_s"] = age
        if "DestinationConfig" in given:
            changes["on_failure"] = _on_failure(deps, account_id, given["DestinationConfig"])
    if "ScalingConfig" in given:
        scaling = given["ScalingConfig"] or {}
        if not isinstance(scaling, dict) or set(scaling) - {"MaximumConcurrency"}:
            raise InvalidParameterValueException("ScalingConfig supports only MaximumConcurrency.")
        limit = scaling.get("MaximumConcurrency")
        changes["maximum_concurrency"] = None if limit is None else validate.int_range(
            limit, "maximumConcurrency", 2, 1000)
    if "FilterCriteria" in given:
        criteria = given["FilterCriteria"]
        filters.parse(criteria)
        changes["filter_criteria"] = criteria if criteria and criteria.get("Filters") else None
    window = given.get("TumblingWindowInSeconds")
    if window not in (None, 0):
        raise InvalidParameterValueException("TumblingWindowInSeconds is not supported by lamina.")
    return replace(base, **changes)


def _on_failure(deps: Deps, account_id: str, config: Any) -> str | None:
    if not isinstance(config, dict) or set(config) - {"OnFailure", "OnSuccess"}:
        raise InvalidParameterValueException("DestinationConfig must be {\"OnFailure\": {\"Destination\": ARN}}.")
    if config.get("OnSuccess"):
        raise InvalidParameterValueException("DestinationConfig.OnSuccess is not supported for event source "
                                             "mappings.")
    target = (config.get("OnFailure") or {}).get("Destination")
    if not target:
        return None
    if not isinstance(target, str) or source_kind(target) != "sqs":
        raise InvalidParameterValueException(f"The on-failure destination {target} must be an SQS queue ARN "
                                             "(lamina has no SNS topics or S3 buckets).")
    owner, name = queues.parse_any_arn(deps, target)
    if owner != account_id or not queues.exists(deps, account_id, name):
        raise InvalidParameterValueException(f"The on-failure destination queue {target} does not exist.")
    if queues.load(deps, account_id, name).fifo:
        raise InvalidParameterValueException("The on-failure destination must be a standard queue, not FIFO.")
    return target


def _check_source(deps: Deps, account_id: str, arn: str) -> str:
    kind = source_kind(arn)
    if kind == "sqs":
        qname = queues.parse_arn(deps, arn)
        if not queues.exists(deps, account_id, qname):
            raise InvalidParameterValueException(f"Queue {arn} does not exist.")
    else:
        owner, sname = streams.parse_arn(deps, arn)
        try:
            streams.load(deps, owner, sname)
        except ResourceNotFoundException:
            raise InvalidParameterValueException(f"Stream {arn} does not exist.") from None
        if owner != account_id:
            raise InvalidParameterValueException(f"Stream {arn} does not exist.")
    return kind


def _check(batch_size: int, window: int, types: list[str], kind: str = "sqs") -> None:
    validate.int_range(batch_size, "batchSize", 1, 10000)
    validate.int_range(window, "maximumBatchingWindowInSeconds", 0, 300)
    if kind == "sqs" and batch_size > 10 and window < 1:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    for t in types:
        if t not in RESPONSE_TYPES:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '[{t}]' at 'functionResponseTypes' failed to satisfy "
                "constraint: Member must satisfy enum value set: [ReportBatchItemFailures]"
            )


def create(deps: Deps, account_id: str, inp: MappingInput) -> MappingRecord:
    """CreateEventSourceMapping for a queue or stream ARN; 409 if that source already feeds that function."""
    if not inp.function_name:
        raise InvalidParameterValueException("FunctionName is required.")
    if not inp.event_source_arn:
        raise InvalidParameterValueException("EventSourceArn is required (an SQS queue or a Kinesis stream).")
    kind = _check_source(deps, account_id, inp.event_source_arn)
    batch = (10 if kind == "sqs" else 100) if inp.batch_size is None else inp.batch_size
    window = inp.maximum_batching_window_s or 0
    types = list(inp.function_response_types or [])
    _check(batch, window, types, kind)
    options = _options(deps, account_id, kind, MappingOptions(), inp.given, creating=True)
    with deps.sessions.begin() as session:
        fn, qual = schedules.target(deps, session, account_id, inp.function_name)
        common.refuse_for_tenancy(fn, "An event source mapping")
        for other, _ in store.list_mappings(session, account_id, function_id=fn.id,
                                            event_source_arn=inp.event_source_arn):
            if other.qualifier == qual:
                raise ResourceConflictException(
                    f"An event source mapping with SQS arn (\" {inp.event_source_arn} \") and function "
                    f"(\" {fn.name} \") already exists. Please update or delete the existing mapping with "
                    f"UUID {other.uuid}"
                )
        row = EventSourceMapping(
            uuid=str(uuid.uuid4()), account_id=account_id, function_id=fn.id, qualifier=qual,
            event_source_arn=inp.event_source_arn, batch_size=batch, maximum_batching_window_s=window,
            enabled=True if inp.enabled is None else inp.enabled, function_response_types=types,
            options=asdict(options), last_modified=common.now(),
        )
        session.add(row)
        session.flush()
        rec = record(deps, row, fn.name)
    if kind == "kinesis":
        stream_poller.start_positions(deps, rec)
    # The mapping delivers only while the function's policy lets the queue invoke it (checked in poll).
    policies.grant_trigger(deps, account_id, fn.name, qual, grant_sid(rec.uuid), policies.QUEUE_PRINCIPAL,
                           source_arn=rec.event_source_arn)
    return rec


def grant_sid(mapping_uuid: str) -> str:
    return f"lamina-esm-{mapping_uuid}"


def _load(session: Any, account_id: str, mapping_uuid: str, lock: bool = False) -> tuple[EventSourceMapping, str]:
    return common.found_or_404(store.get_mapping(session, account_id, mapping_uuid, lock=lock),
                               f"The resource you requested does not exist. (UUID {mapping_uuid})")


def get(deps: Deps, account_id: str, mapping_uuid: str) -> MappingRecord:
    with deps.sessions() as session:
        return record(deps, *_load(session, account_id, mapping_uuid))


def list_mappings(deps: Deps, account_id: str, function_name: str | None = None,
                  event_source_arn: str | None = None, marker: str | None = None,
                  max_items: int | None = None) -> Page[MappingRecord]:
    limit = validate.max_items(max_items, 10000, MAX_PAGE)
    with deps.sessions() as session:
        function_id = None
        qual_filter: tuple[bool, str | None] = (False, None)
        if function_name:
            fn, qual = schedules.target(deps, session, account_id, function_name)
            function_id = fn.id
            ref = arns.parse_function_name(function_name, deps.settings.region, account_id)
            if ref.qualifier is not None:
                qual_filter = (True, qual)
        after = None
        if marker:
            try:
                after = int(marker)
            except ValueError:
                raise InvalidParameterValueException(f"Invalid Marker: {marker}") from None
        rows = store.list_mappings(session, account_id, function_id=function_id,
                                   event_source_arn=event_source_arn or None, after_id=after, limit=limit + 1)
        if qual_filter[0]:
            rows = [(r, n) for r, n in rows if r.qualifier == qual_filter[1]]
        items = [(r.id, record(deps, r, n)) for r, n in rows]
    if len(items) > limit:
        return Page([r for _, r in items[:limit]], next_marker=str(items[limit - 1][0]))
    return Page([r for _, r in items])


def update(deps: Deps, account_id: str, mapping_uuid: str, inp: MappingInput) -> MappingRecord:
    """UpdateEventSourceMapping: function, batch size, window, enabled, response types."""
    with deps.sessions.begin() as session:
        row, fn_name = _load(session, account_id, mapping_uuid, lock=True)
        batch = row.batch_size if inp.batch_size is None else inp.batch_size
        window = row.maximum_batching_window_s if inp.maximum_batching_window_s is None \
            else inp.maximum_batching_window_s
        types = list(row.function_response_types or []) if inp.function_response_types is None \
            else list(inp.function_response_types)
        kind = source_kind(row.event_source_arn)
        _check(batch, window, types, kind)
        options = _options(deps, account_id, kind, MappingOptions.of(row.options), inp.given, creating=False)
        row.options = asdict(options)
        if inp.function_name:
            fn, qual = schedules.target(deps, session, account_id, inp.function_name)
            row.function_id, row.qualifier, fn_name = fn.id, qual, fn.name
        row.batch_size, row.maximum_batching_window_s, row.function_response_types = batch, window, types
        if inp.enabled is not None:
            row.enabled = inp.enabled
        row.last_modified = common.now()
        session.flush()
        return record(deps, row, fn_name)


def delete(deps: Deps, account_id: str, mapping_uuid: str) -> MappingRecord:
    """DeleteEventSourceMapping; returns the mapping in state Deleting (Lambda answers 202 with it)."""
    with deps.sessions.begin() as session:
        row, fn_name = _load(session, account_id, mapping_uuid, lock=True)
        rec = record(deps, row, fn_name, state="Deleting")
        session.delete(row)
        session.flush()
    policies.revoke_trigger(deps, account_id, fn_name, rec.qualifier, grant_sid(mapping_uuid))
    if rec.source_kind == "kinesis":
        stream_poller.forget(deps, rec)
    return rec


def enabled_mappings(deps: Deps) -> list[MappingRecord]:
    """Every enabled mapping of every account (what the pollers work on)."""
    with deps.sessions() as session:
        return [record(deps, r, n) for r, n in store.list_mappings(session, enabled_only=True)]


# -- polling


def sqs_record(deps: Deps, account_id: str, queue_arn: str, msg: messages.Message) -> dict[str, Any]:
    """One message as SQS's Lambda event record."""
    attributes = {
        "ApproximateReceiveCount": str(msg.receive_count),
        "SentTimestamp": str(msg.sent_ms),
        "SenderId": msg.sender or account_id,
        "ApproximateFirstReceiveTimestamp": str(msg.first_receive_ms),
    }
    if msg.sequence is not None:
        attributes.update(SequenceNumber=f"{msg.sequence:020d}", MessageGroupId=msg.group or "",
                          MessageDeduplicationId=msg.dedup_id or "")
    trace = msg.trace_header
    if trace:
        attributes["AWSTraceHeader"] = trace
    rec: dict[str, Any] = {
        "messageId": msg.message_id,
        "receiptHandle": msg.receipt_handle,
        "body": msg.body,
        "attributes": attributes,
        "messageAttributes": {name: {
            "stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"), "stringListValues": [],
            "binaryListValues": [], "dataType": v["DataType"]} for name, v in msg.attributes.items()},
        "md5OfBody": msg.md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": deps.settings.region,
    }
    if msg.md5_of_attributes:
        rec["md5OfMessageAttributes"] = msg.md5_of_attributes
    return rec


def _failed_ids(payload: bytes, batch_ids: set[str]) -> set[str] | None:
    """Message ids the function reported as failed; None if the answer is not a valid report."""
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    if answer is None or not isinstance(answer, dict) or answer.get("batchItemFailures") in (None, []):
        return set()
    items = answer["batchItemFailures"]
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in batch_ids:
            return None
        failed.add(ident)
    return failed


def _stop_loops(deps: Deps, invoker: Invokes, mapping: MappingRecord, acct: str, qname: str,
                msgs: list[messages.Message]) -> tuple[list[messages.Message], str]:
    """The messages that may run (a message one too many of a chain of events goes to the queue's
    dead-letter queue, or is deleted when it has none), and the trace header of their invocation."""
    hops = {m.message_id: lineage.next_hop(m.trace_header, mapping.function_arn) for m in msgs if m.trace_header}
    over = {i for i, h in hops.items() if lineage.count(h) > lineage.MAX_CHAIN}
    kept = msgs
    if over and lineage.stops(hops[next(iter(over))], invoker.spec(
            acct, mapping.function_name, mapping.qualifier or "$LATEST").get("recursive_loop")):
        kept = []
        for m in msgs:
            if m.message_id not in over:
                kept.append(m)
                continue
            log.warning("mapping %s: message %s would be the invocation %d of a chain of events (a recursive "
                        "loop); stopped, as the RecursionConfig of %s is Terminate", mapping.uuid, m.message_id,
                        lineage.count(hops[m.message_id]), mapping.function_name)
            messages.dead_letter(deps, acct, qname, m)
            invoke_metrics.recursion_dropped(deps.redis, acct, mapping.function_name)
    # One invocation for the batch: it continues the longest chain among its messages (or starts one).
    longest = max((hops[m.message_id] for m in kept if m.message_id in hops), key=lineage.count, default=None)
    return kept, longest or lineage.next_hop(None, mapping.function_arn)


def poll(deps: Deps, invoker: Invokes, mapping: MappingRecord, account_id: str | None = None) -> PollResult:
    """Take one batch for ``mapping`` and hand it to its function (see the module docstring)."""
    acct = account_id or mapping.function_arn.split(":")[4]
    try:
        qname = queues.parse_arn(deps, mapping.event_source_arn)
        # A long poll, as Lambda's pollers do: a message sent while we wait is delivered within ~20 ms.
        msgs = messages.receive(deps, acct, qname, max_messages=mapping.batch_size, wait_s=LONG_POLL_S)
        if mapping.maximum_batching_window_s and len(msgs) < mapping.batch_size:
            until = time.monotonic() + mapping.maximum_batching_window_s
            while len(msgs) < mapping.batch_size and time.monotonic() < until:
                time.sleep(0.05)
                msgs += messages.receive(deps, acct, qname, max_messages=mapping.batch_size - len(msgs))
    except ResourceNotFoundException:
        return PollResult(0, 0, "gone")
    if not msgs:
        return PollResult(0, 0, "empty")
    if not policies.is_allowed(deps, acct, mapping.function_name, mapping.qualifier,
                               principal=policies.QUEUE_PRINCIPAL, source_arn=mapping.event_source_arn):
        # Its grant was removed: the messages stay invisible until their visibility timeout, then are
        # received again (and dead-lettered after maxReceiveCount), as for a failing function.
        log.warning("mapping %s did not deliver: the resource policy of %s does not let sqs.lamina invoke it "
                    "(SourceArn %s)", mapping.uuid, mapping.function_name, mapping.event_source_arn)
        return PollResult(len(msgs), 0, "denied")
    patterns = mapping.options.patterns()
    if patterns:
        # Messages no filter matches are deleted unseen, as Lambda does.
        kept = []
        for m in msgs:
            if filters.matches(patterns, filters.sqs_view(sqs_record(deps, acct, mapping.event_source_arn, m))):
                kept.append(m)
            else:
                messages.delete_message(deps, acct, qname, m.receipt_handle)
        if not kept:
            return PollResult(len(msgs), len(msgs), "filtered")
        msgs = kept
    received = len(msgs)
    msgs, trace = _stop_loops(deps, invoker, mapping, acct, qname, msgs)
    if not msgs:
        return PollResult(received, received, "recursive")
    records: list[dict[str, Any]] = []
    size = 20
    for i, m in enumerate(msgs):
        rec = sqs_record(deps, acct, mapping.event_source_arn, m)
        size += len(json.dumps(rec)) + 2
        if records and size > MAX_SYNC_PAYLOAD:
            # The batch would not fit one invocation (6 MB): the rest go back to the queue at once.
            for later in msgs[i:]:
                messages.change_visibility(deps, acct, qname, later.receipt_handle, 0)
            msgs = msgs[:i]
            break
        records.append(rec)
    event = {"Records": records}
    try:
        result = invoker.invoke(InvocationRequest(
            account_id=acct, function_name=mapping.function_name, qualifier=mapping.qualifier,
            payload=json.dumps(event).encode(), request_id=str(uuid.uuid4()), trace_id=trace,
        ))
    except LambdaError as err:
        outcome = "throttled" if err.status == 429 else "error"
        return PollResult(len(msgs), 0, outcome)
    if result.function_error:
        return PollResult(len(msgs), 0, "function_error")
    failed: set[str] = set()
    if "ReportBatchItemFailures" in mapping.function_response_types:
        reported = _failed_ids(result.payload, {m.message_id for m in msgs})
        if reported is None:
            return PollResult(len(msgs), 0, "function_error")
        failed = reported
    deleted = 0
    for m in msgs:
        if m.message_id not in failed and messages.delete_message(deps, acct, qname, m.receipt_handle):
            deleted += 1
    return PollResult(len(msgs), deleted, "partial" if failed else "success")
