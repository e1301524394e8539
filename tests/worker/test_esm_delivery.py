"""Event source mappings on real queues, functions and workers: SQS-shaped batches, failed batches back
after the visibility timeout and then in the dead-letter queue, ReportBatchItemFailures, batching window,
and a `lamina worker` process draining a queue."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from lamina.services.invoke.requests import InvocationRequest
from lamina.services.queues import messages, queues
from lamina.services.triggers import event_sources
from support.triggers import wait_for

pytestmark = pytest.mark.docker

APP = """
import json

def ok(event, context):
    return None

def fail(event, context):
    raise RuntimeError("cannot")

def partial(event, context):
    bad = [r["messageId"] for r in event["Records"] if r["body"].startswith("bad")]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}

def liar(event, context):
    return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
"""


class Spy:
    """The worker invoker, recording the events it is asked to deliver."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events: list[dict[str, Any]] = []
        self.times: list[float] = []

    def invoke(self, req: Any) -> Any:
        self.times.append(time.monotonic())
        self.events.append(json.loads(req.payload))
        return self.inner.invoke(req)


def _mapping(client: Any, fn: str, arn: str, **extra: Any) -> event_sources.MappingRecord:
    resp = client.post("/2015-03-31/event-source-mappings", json={"FunctionName": fn, "EventSourceArn": arn, **extra})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return event_sources.get(client.application.extensions["lamina"], "000000000000", resp.get_json()["UUID"])


def _queue(components: Any, name: str, **kw: Any) -> str:
    queues.create_queue(components, components.settings.account_id, name, **kw)
    return queues.queue_arn(components.settings.region, components.settings.account_id, name)


def _warm(runtime: Any, fn: str) -> None:
    """Start an environment first, so a poll takes milliseconds and short visibility timeouts hold."""
    runtime.invoker.invoke(InvocationRequest(account_id="000000000000", function_name=fn, payload=b"{}"))


def _count(components: Any, name: str) -> tuple[int, int]:
    q = queues.get_queue(components, components.settings.account_id, name)
    return q.visible, q.not_visible


def test_batches_arrive_in_sqs_shape_and_are_deleted_on_success(client: Any, fns: Any, components: Any,
                                                                runtime: Any) -> None:
    fns.create("esm-ok", {"app.py": APP}, handler="app.ok")
    arn = _queue(components, "in")
    m = _mapping(client, "esm-ok", arn, BatchSize=3)
    messages.send_messages(components, "000000000000", "in", [f"m{i}" for i in range(5)])
    spy = Spy(runtime.invoker)
    first = event_sources.poll(components, spy, m)
    assert (first.received, first.deleted, first.outcome) == (3, 3, "success")
    second = event_sources.poll(components, spy, m)
    assert (second.received, second.deleted) == (2, 2)
    assert event_sources.poll(components, spy, m).outcome == "empty"
    assert _count(components, "in") == (0, 0)
    records = [r for e in spy.events for r in e["Records"]]
    assert sorted(r["body"] for r in records) == [f"m{i}" for i in range(5)]
    rec = records[0]
    assert set(rec) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                        "eventSource", "eventSourceARN", "awsRegion"}
    assert rec["eventSource"] == "aws:sqs" and rec["eventSourceARN"] == arn and rec["awsRegion"] == "us-east-1"
    assert rec["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(rec["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                      "ApproximateFirstReceiveTimestamp"}


def test_a_failed_batch_returns_after_the_visibility_timeout_then_goes_to_the_dlq(
    client: Any, fns: Any, components: Any, runtime: Any
) -> None:
    fns.create("esm-fail", {"app.py": APP}, handler="app.fail")
    _warm(runtime, "esm-fail")
    _queue(components, "dead")
    arn = _queue(components, "flaky", visibility_timeout_s=2, max_receive_count=2, dead_letter="dead")
    m = _mapping(client, "esm-fail", arn)
    messages.send_messages(components, "000000000000", "flaky", ["x", "y"])
    assert event_sources.poll(components, runtime.invoker, m).outcome == "function_error"
    assert _count(components, "flaky") == (0, 2)  # hidden, not deleted
    assert event_sources.poll(components, runtime.invoker, m).outcome == "empty"
    time.sleep(2.05)
    second = event_sources.poll(components, runtime.invoker, m)
    assert (second.received, second.outcome) == (2, "function_error")
    time.sleep(2.05)
    assert event_sources.poll(components, runtime.invoker, m).outcome == "empty"  # both moved on receive
    assert _count(components, "flaky") == (0, 0)
    dead = messages.receive(components, "000000000000", "dead", max_messages=10)
    assert sorted(d.body for d in dead) == ["x", "y"]


def test_report_batch_item_failures_keeps_only_the_failed_messages(client: Any, fns: Any, components: Any,
                                                                   runtime: Any) -> None:
    fns.create("esm-partial", {"app.py": APP}, handler="app.partial")
    fns.create("esm-liar", {"app.py": APP}, handler="app.liar")
    _warm(runtime, "esm-partial")
    arn = _queue(components, "mixed", visibility_timeout_s=1)
    m = _mapping(client, "esm-partial", arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    messages.send_messages(components, "000000000000", "mixed", ["good1", "bad1", "good2", "bad2"])
    result = event_sources.poll(components, runtime.invoker, m)
    assert (result.received, result.deleted, result.outcome) == (4, 2, "partial")
    time.sleep(1.05)
    back = messages.receive(components, "000000000000", "mixed", max_messages=10, visibility_timeout_s=0)
    assert sorted(b.body for b in back) == ["bad1", "bad2"]
    # Without the response type the report is ignored: the whole batch counts as handled.
    plain = _mapping(client, "esm-partial", _queue(components, "plain"))
    messages.send_messages(components, "000000000000", "plain", ["bad3", "good3"])
    assert event_sources.poll(components, runtime.invoker, plain).deleted == 2
    # A report naming a message that is not in the batch fails the whole batch.
    liar = _mapping(client, "esm-liar", _queue(components, "lies", visibility_timeout_s=30),
                    FunctionResponseTypes=["ReportBatchItemFailures"])
    messages.send_messages(components, "000000000000", "lies", ["a", "b"])
    assert event_sources.poll(components, runtime.invoker, liar).outcome == "function_error"
    assert _count(components, "lies") == (0, 2)


def test_batching_window_waits_to_fill_the_batch(client: Any, fns: Any, components: Any, runtime: Any) -> None:
    fns.create("esm-window", {"app.py": APP}, handler="app.ok")
    m = _mapping(client, "esm-window", _queue(components, "slow"), BatchSize=20, MaximumBatchingWindowInSeconds=1)
    messages.send_messages(components, "000000000000", "slow", ["first"])
    import threading

    later = threading.Timer(0.3, lambda: messages.send_messages(components, "000000000000", "slow", ["second"]))
    later.start()
    spy = Spy(runtime.invoker)
    started = time.monotonic()
    result = event_sources.poll(components, spy, m)
    assert result.received == 2 and len(spy.events) == 1
    # The batch went to the function when the window closed (not when the first message arrived).
    assert 0.9 <= spy.times[0] - started < 2.5


def test_a_worker_process_drains_enabled_mappings(client: Any, fns: Any, components: Any,
                                                  worker_processes: Any) -> None:
    fns.create("esm-proc", {"app.py": APP}, handler="app.ok")
    on = _mapping(client, "esm-proc", _queue(components, "feed"))
    off = _mapping(client, "esm-proc", _queue(components, "paused"), Enabled=False)
    assert on.enabled and not off.enabled
    messages.send_messages(components, "000000000000", "feed", [f"n{i}" for i in range(10)])
    messages.send_messages(components, "000000000000", "feed", [f"o{i}" for i in range(10)])
    messages.send_messages(components, "000000000000", "paused", ["stay"])
    proc = worker_processes()
    assert wait_for(lambda: _count(components, "feed") == (0, 0), 30), proc.output()
    assert _count(components, "paused") == (1, 0)


def test_a_batch_is_cut_to_fit_one_invocation(client: Any, fns: Any, components: Any, runtime: Any) -> None:
    fns.create("esm-big", {"app.py": APP}, handler="app.ok")
    m = _mapping(client, "esm-big", _queue(components, "big"), BatchSize=40, MaximumBatchingWindowInSeconds=1)
    body = "x" * (250 * 1024)
    for _ in range(4):
        messages.send_messages(components, "000000000000", "big", [body] * 10)
    spy = Spy(runtime.invoker)
    first = event_sources.poll(components, spy, m)
    assert first.outcome == "success" and 20 <= first.received < 40  # 6 MB of 250 KB bodies
    assert len(json.dumps(spy.events[0])) <= 6 * 1024 * 1024
    assert _count(components, "big") == (40 - first.received, 0)  # the rest are visible again at once
    second = event_sources.poll(components, spy, m)
    assert first.received + second.received == 40 and _count(components, "big") == (0, 0)
