"""Kinesis event source mappings on real streams, functions and workers: Lambda's Kinesis event, order per
shard, starting positions, ReportBatchItemFailures checkpoints, bisection, retries and the on-failure
destination, parallelization with order per partition key, filters (streams and queues), and the
validation of every member."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest
from lamina.services.queues import messages, queues
from lamina.services.streams import streams
from lamina.services.triggers import event_sources, stream_poller
from support.triggers import wait_for

pytestmark = pytest.mark.docker

APP = """
import base64, json

def ok(event, context):
    return None

def fail_bad(event, context):
    for r in event["Records"]:
        if base64.b64decode(r["kinesis"]["data"]).startswith(b"bad"):
            raise RuntimeError("bad record")

def report_bad(event, context):
    bad = [r["kinesis"]["sequenceNumber"] for r in event["Records"]
           if base64.b64decode(r["kinesis"]["data"]).startswith(b"bad")]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in bad]}
"""
ACCOUNT = "000000000000"


class Spy:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def invoke(self, req: Any) -> Any:
        with self.lock:
            self.events.append(json.loads(req.payload))
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            return self.inner.invoke(req)
        finally:
            with self.lock:
                self.active -= 1

    def data(self) -> list[list[str]]:
        return [[base64.b64decode(r["kinesis"]["data"]).decode() for r in e["Records"]] for e in self.events]


def _stream(components: Any, name: str, shards: int = 1) -> streams.StreamRecord:
    return streams.create(components, ACCOUNT, name, shards)


def _put(components: Any, stream: streams.StreamRecord, *items: tuple[str, str]) -> list[streams.Put]:
    return streams.put_records(components, stream, [(pk, data.encode(), None) for pk, data in items])


def _mapping(client: Any, fn: str, arn: str, **extra: Any) -> event_sources.MappingRecord:
    resp = client.post("/2015-03-31/event-source-mappings", json={"FunctionName": fn, "EventSourceArn": arn, **extra})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return event_sources.get(client.application.extensions["lamina"], ACCOUNT, resp.get_json()["UUID"])


def _rounds(components: Any, invoker: Any, m: Any, shard: str = "shardId-000000000000", n: int = 20) -> list[str]:
    outcomes = []
    for _ in range(n):
        result = stream_poller.poll_shard(components, invoker, m, shard)
        outcomes.append(result.outcome)
        if result.outcome == "empty":
            break
        if result.outcome == "backoff":
            time.sleep(0.2)
    return outcomes


def test_records_arrive_in_kinesis_shape_in_order_from_the_starting_position(
    client: Any, fns: Any, components: Any, runtime: Any,
) -> None:
    fns.create("kin-ok", {"app.py": APP}, handler="app.ok")
    stream = _stream(components, "events")
    _put(components, stream, ("k", "before-1"), ("k", "before-2"))
    horizon = _mapping(client, "kin-ok", stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=2)
    latest = _mapping(client, "kin-ok:$LATEST", stream.arn, StartingPosition="LATEST")
    puts = _put(components, stream, ("k", "after-1"), ("j", "after-2"), ("k", "after-3"))
    spy = Spy(runtime.invoker)
    assert _rounds(components, spy, horizon) == ["success", "success", "success", "empty"]
    assert spy.data() == [["before-1", "before-2"], ["after-1", "after-2"], ["after-3"]]
    rec = spy.events[1]["Records"][0]
    assert rec == {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": puts[0].sequence_number,
                    "data": base64.b64encode(b"after-1").decode(), "approximateArrivalTimestamp": rec["kinesis"][
                        "approximateArrivalTimestamp"]},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{puts[0].sequence_number}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::000000000000:role/lamina-test", "awsRegion": "us-east-1",
        "eventSourceARN": stream.arn,
    }
    spy_latest = Spy(runtime.invoker)
    assert _rounds(components, spy_latest, latest)[0] == "success"
    assert spy_latest.data() == [["after-1", "after-2", "after-3"]]  # LATEST: only what came after creation
    shape = client.get(f"/2015-03-31/event-source-mappings/{horizon.uuid}").get_json()
    assert shape["StartingPosition"] == "TRIM_HORIZON" and shape["ParallelizationFactor"] == 1
    assert shape["MaximumRetryAttempts"] == -1 and shape["BatchSize"] == 2
    assert stream_poller.iterator_ages(components, horizon.uuid) == {"shardId-000000000000": 0}
    scraped = client.get("/metrics").get_data(as_text=True)
    assert f'lamina_esm_iterator_age_milliseconds{{mapping="{horizon.uuid}",shard="shardId-000000000000"}} 0' \
        in scraped


def test_reported_failures_checkpoint_at_the_lowest_failed_record(client: Any, fns: Any, components: Any,
                                                                  runtime: Any) -> None:
    fns.create("kin-report", {"app.py": APP}, handler="app.report_bad")
    stream = _stream(components, "reported")
    m = _mapping(client, "kin-report", stream.arn, StartingPosition="TRIM_HORIZON",
                 FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1)
    _put(components, stream, ("k", "a"), ("k", "bad-b"), ("k", "c"))
    spy = Spy(runtime.invoker)
    shard = "shardId-000000000000"
    assert stream_poller.poll_shard(components, spy, m, shard).outcome == "function_error"
    assert stream_poller.poll_shard(components, spy, m, shard).outcome == "backoff"
    time.sleep(0.25)
    assert stream_poller.poll_shard(components, spy, m, shard).outcome == "discarded"
    # First the whole batch; then, retried from the failed record, the rest only.
    assert spy.data() == [["a", "bad-b", "c"], ["bad-b", "c"]]


def test_bisection_isolates_the_failing_record_and_retries_end_at_the_destination(
    client: Any, fns: Any, components: Any, runtime: Any,
) -> None:
    fns.create("kin-bisect", {"app.py": APP}, handler="app.fail_bad")
    queues.create(components, ACCOUNT, "kin-failures")
    dest = queues.queue_arn("us-east-1", ACCOUNT, "kin-failures")
    stream = _stream(components, "poisoned")
    m = _mapping(client, "kin-bisect", stream.arn, StartingPosition="TRIM_HORIZON", BisectBatchOnFunctionError=True,
                 MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": dest}})
    _put(components, stream, ("k", "a"), ("k", "b"), ("k", "bad-c"), ("k", "d"))
    spy = Spy(runtime.invoker)
    assert stream_poller.poll_shard(components, spy, m, "shardId-000000000000").outcome == "discarded"
    # [a b bad-c d] fails -> [a b] ok -> [bad-c d] fails -> [bad-c] fails: the batch failed from bad-c.
    assert spy.data() == [["a", "b", "bad-c", "d"], ["a", "b"], ["bad-c", "d"], ["bad-c"]]
    [failure] = messages.receive(components, ACCOUNT, "kin-failures")
    body = json.loads(failure.body)
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["responseContext"]["functionError"] == "Unhandled"
    info = body["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000" and info["batchSize"] == 2 and info["streamArn"] == stream.arn
    assert stream_poller.poll_shard(components, spy, m, "shardId-000000000000").outcome == "empty"


def test_parallelization_keeps_order_per_partition_key(client: Any, fns: Any, components: Any,
                                                       runtime: Any) -> None:
    fns.create("kin-par", {"app.py": APP}, handler="app.ok")
    stream = _stream(components, "parallel")
    m = _mapping(client, "kin-par", stream.arn, StartingPosition="TRIM_HORIZON", ParallelizationFactor=4,
                 BatchSize=5)
    items = [(f"key-{i % 6}", f"{i % 6}:{i}") for i in range(30)]
    _put(components, stream, *items)
    spy = Spy(runtime.invoker)
    for _ in range(10):
        if stream_poller.poll_shard(components, spy, m, "shardId-000000000000").outcome == "empty":
            break
    seen: dict[str, list[int]] = {}
    for batch in spy.data():
        for value in batch:
            key, _, n = value.partition(":")
            seen.setdefault(key, []).append(int(n))
    assert sum(len(v) for v in seen.values()) == 30
    assert all(v == sorted(v) for v in seen.values())
    assert spy.peak > 1  # slots ran at once


def test_filters_skip_stream_records_and_delete_queue_messages(client: Any, fns: Any, components: Any,
                                                               runtime: Any) -> None:
    fns.create("kin-filter", {"app.py": APP}, handler="app.ok")
    stream = _stream(components, "filtered")
    pattern = {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["order"], "total": [{"numeric": [">", 10]}]}})}]}
    m = _mapping(client, "kin-filter", stream.arn, StartingPosition="TRIM_HORIZON", FilterCriteria=pattern)
    _put(components, stream, ("k", json.dumps({"kind": "order", "total": 5})),
         ("k", json.dumps({"kind": "order", "total": 50})), ("k", "not json"), ("k", json.dumps({"kind": "refund"})))
    spy = Spy(runtime.invoker)
    assert _rounds(components, spy, m) == ["success", "empty"]
    assert [json.loads(d) for d in spy.data()[0]] == [{"kind": "order", "total": 50}]
    assert client.get(f"/2015-03-31/event-source-mappings/{m.uuid}").get_json()["FilterCriteria"] == pattern

    queues.create(components, ACCOUNT, "filtered-q")
    qarn = queues.queue_arn("us-east-1", ACCOUNT, "filtered-q")
    qm = _mapping(client, "kin-filter", qarn, ScalingConfig={"MaximumConcurrency": 3}, FilterCriteria={
        "Filters": [{"Pattern": json.dumps({"body": {"priority": [{"prefix": "hi"}]}})}]})
    assert client.get(f"/2015-03-31/event-source-mappings/{qm.uuid}").get_json()["ScalingConfig"] == \
        {"MaximumConcurrency": 3}
    messages.send_messages(components, ACCOUNT, "filtered-q",
                           [json.dumps({"priority": "high"}), json.dumps({"priority": "low"}), "plain"])
    qspy = Spy(runtime.invoker)
    result = event_sources.poll(components, qspy, qm)
    assert result.outcome == "success"
    assert [r["body"] for r in qspy.events[0]["Records"]] == [json.dumps({"priority": "high"})]
    q = queues.get_queue(components, ACCOUNT, "filtered-q")
    assert (q.visible, q.not_visible) == (0, 0)  # the unmatched ones were deleted


def test_every_member_is_validated_for_its_source(client: Any, fns: Any, components: Any) -> None:
    fns.create("kin-val", {"app.py": APP}, handler="app.ok")
    stream = _stream(components, "validated")
    queues.create(components, ACCOUNT, "validated-q")
    qarn = queues.queue_arn("us-east-1", ACCOUNT, "validated-q")
    base = {"FunctionName": "kin-val"}
    cases = [
        {"EventSourceArn": stream.arn},  # StartingPosition missing
        {"EventSourceArn": stream.arn, "StartingPosition": "SOMEWHERE"},
        {"EventSourceArn": stream.arn, "StartingPosition": "AT_TIMESTAMP"},
        {"EventSourceArn": stream.arn, "StartingPosition": "LATEST", "ParallelizationFactor": 11},
        {"EventSourceArn": stream.arn, "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 10},
        {"EventSourceArn": stream.arn, "StartingPosition": "LATEST", "TumblingWindowInSeconds": 60},
        {"EventSourceArn": stream.arn, "StartingPosition": "LATEST", "ScalingConfig": {"MaximumConcurrency": 2}},
        {"EventSourceArn": stream.arn, "StartingPosition": "LATEST",
         "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:topic"}}},
        {"EventSourceArn": stream.arn, "StartingPosition": "LATEST", "FilterCriteria": {"Filters": [{"Pattern": "x"}]}},
        {"EventSourceArn": qarn, "StartingPosition": "LATEST"},
        {"EventSourceArn": qarn, "BisectBatchOnFunctionError": True},
        {"EventSourceArn": qarn, "ScalingConfig": {"MaximumConcurrency": 1}},
        {"EventSourceArn": qarn, "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "x"}]},
        {"EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/missing", "StartingPosition": "LATEST"},
        {"EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x", "StartingPosition": "LATEST"},
    ]
    for case in cases:
        resp = client.post("/2015-03-31/event-source-mappings", json={**base, **case})
        assert resp.status_code == 400, (case, resp.get_data(as_text=True))
        assert resp.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException", case
    assert client.get("/2015-03-31/event-source-mappings").get_json()["EventSourceMappings"] == []


def test_a_worker_process_delivers_every_shard(client: Any, fns: Any, components: Any,
                                               worker_processes: Any) -> None:
    fns.create("kin-proc", {"app.py": APP}, handler="app.ok")
    stream = _stream(components, "worked", shards=3)
    queues.create(components, ACCOUNT, "kin-proc-out")
    _mapping(client, "kin-proc", stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=10)
    _put(components, stream, *[(f"p{i}", f"r{i}") for i in range(60)])
    proc = worker_processes()

    def delivered() -> bool:
        m = event_sources.list_mappings(components, ACCOUNT).items[0]
        cps = components.redis.hgetall(f"lamina:esm:{m.uuid}:cp")
        last = {s.shard_id: s for s in stream.shards}
        ends = {}
        for shard in last:
            tail = components.redis.xrevrange(streams.shard_key(ACCOUNT, "worked", shard), count=1)
            ends[shard] = tail[0][0] if tail else None
        return all(ends[s] is None or cps.get(s.encode()) == ends[s] for s in ends)

    assert wait_for(delivered, 60), proc.output()
