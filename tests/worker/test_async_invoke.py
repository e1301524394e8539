"""InvocationType=Event on real Redis, RQ workers and containers: 202, retries and their delays, event age,
throttles, destinations (queue and function) with Lambda's record, idempotent jobs."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from lamina.services.events import events
from lamina.services.queues import messages, queues
from support.invoking import invoke

pytestmark = pytest.mark.docker

APP = """
import json, time

def ok(event, context):
    return {"got": event, "rid": context.aws_request_id}

def fail(event, context):
    raise ValueError("boom")

def slow(event, context):
    time.sleep(event.get("s", 3))
    return {"slept": event.get("s", 3)}
"""


def event_invoke(client: Any, name: str, payload: Any, qualifier: str | None = None) -> Any:
    resp = invoke(client, name, payload, qualifier=qualifier, headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_data() == b""
    return resp.headers["x-amzn-RequestId"]


def configure(client: Any, name: str, **body: Any) -> None:
    resp = client.put(f"/2019-09-25/functions/{name}/event-invoke-config", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)


def qarn(components: Any, name: str) -> str:
    return queues.queue_arn(components.settings.region, components.settings.account_id, name)


def drain(components: Any, name: str) -> list[dict[str, Any]]:
    acct = components.settings.account_id
    msgs = messages.receive(components, acct, name, max_messages=100)
    for m in msgs:
        messages.delete_message(components, acct, name, m.receipt_handle)
    return [json.loads(m.body) for m in msgs]


def test_event_is_accepted_at_once_and_run_by_a_worker(client: Any, fns: Any, components: Any, fast: Any,
                                                        work: Any) -> None:
    acct = components.settings.account_id
    fns.create("async-ok", {"app.py": APP}, handler="app.ok")
    queues.create_queue(components, acct, "done")
    configure(client, "async-ok", DestinationConfig={"OnSuccess": {"Destination": qarn(components, "done")}})
    rid = event_invoke(client, "async-ok", {"n": 1})
    ev = events.get_event(components.redis, rid)
    assert ev is not None and ev["state"] == "queued" and ev["function"] == "async-ok"
    work(until=lambda: (events.get_event(components.redis, rid) or {}).get("state") == "done")
    ev = events.get_event(components.redis, rid)
    assert ev["condition"] == "Success" and ev["invokes"] == "1"
    [record] = drain(components, "done")
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext",
                           "responsePayload"}
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": rid,
        "functionArn": f"arn:aws:lambda:us-east-1:{acct}:function:async-ok:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"got": {"n": 1}, "rid": rid}


def test_async_payload_limit_is_one_megabyte(client: Any, fns: Any) -> None:
    fns.create("async-big", {"app.py": APP}, handler="app.ok")
    big = json.dumps({"x": "a" * (1024 * 1024)}).encode()
    resp = invoke(client, "async-big", raw=big, headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 413
    assert resp.headers["X-Amzn-ErrorType"] == "RequestTooLargeException"
    ok = json.dumps({"x": "a" * (1000 * 1000)}).encode()
    assert invoke(client, "async-big", raw=ok, headers={"X-Amz-Invocation-Type": "Event"}).status_code == 202


def test_unknown_function_is_404_and_nothing_is_queued(client: Any, components: Any) -> None:
    resp = invoke(client, "nope", {}, headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 404
    assert len(components.queue) == 0


@pytest.mark.parametrize("retries, invokes", [(None, 3), (1, 2), (0, 1)])
def test_function_errors_are_retried_with_back_off_then_sent_on_failure(
    client: Any, fns: Any, components: Any, fast: Any, work: Any, retries: int | None, invokes: int
) -> None:
    fns.create("async-fail", {"app.py": APP}, handler="app.fail")
    queues.create_queue(components, components.settings.account_id, "failed")
    cfg: dict[str, Any] = {"DestinationConfig": {"OnFailure": {"Destination": qarn(components, "failed")}}}
    if retries is not None:
        cfg["MaximumRetryAttempts"] = retries
    configure(client, "async-fail", **cfg)
    rid = event_invoke(client, "async-fail", {"k": "v"})
    work(until=lambda: (events.get_event(components.redis, rid) or {}).get("state") == "done")
    ev = events.get_event(components.redis, rid)
    assert ev["condition"] == "RetriesExhausted"
    assert int(ev["invokes"]) == invokes
    starts = [float(t) for t in ev["starts"].split(",")]
    assert len(starts) == invokes
    # Each retry is due its back-off after the failure, and starts then (not before, and soon after).
    decided = [float(t) for t in ev.get("retried_at", "").split(",") if t]
    dues = [float(t) for t in ev.get("retry_due", "").split(",") if t]
    assert len(decided) == len(dues) == invokes - 1
    for i, (at, due) in enumerate(zip(decided, dues, strict=True)):
        assert due - at == pytest.approx(fast.async_retry_delays_s[i], abs=0.01)
        assert due <= starts[i + 1] < due + 3.0, (due, starts)  # generous: the test machine is shared
    [record] = drain(components, "failed")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == invokes
    assert record["requestPayload"] == {"k": "v"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "boom"


def test_event_past_its_age_is_not_run_and_goes_to_on_failure(client: Any, fns: Any, components: Any,
                                                              fast: Any, work: Any) -> None:
    fns.create("async-old", {"app.py": APP}, handler="app.ok")
    queues.create_queue(components, components.settings.account_id, "old")
    configure(client, "async-old", MaximumEventAgeInSeconds=60,
              DestinationConfig={"OnFailure": {"Destination": qarn(components, "old")}})
    rid = event_invoke(client, "async-old", {"a": 1})
    components.redis.hset(events.keys.event(rid), "accepted", repr(time.time() - 61))
    work(until=lambda: (events.get_event(components.redis, rid) or {}).get("state") == "done")
    ev = events.get_event(components.redis, rid)
    assert ev["condition"] == "EventAgeExceeded" and ev["invokes"] == "0"
    [record] = drain(components, "old")
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in record


def test_throttled_events_are_retried_until_they_age_out(client: Any, fns: Any, components: Any, fast: Any,
                                                         work: Any) -> None:
    fns.create("async-throttled", {"app.py": APP}, handler="app.ok")
    assert client.put("/2017-10-31/functions/async-throttled/concurrency",
                      json={"ReservedConcurrentExecutions": 0}).status_code == 200
    configure(client, "async-throttled", MaximumEventAgeInSeconds=60, MaximumRetryAttempts=0)
    rid = event_invoke(client, "async-throttled", {})
    # Accepted 56 s ago: a few throttled tries (0.2, 0.4, 0.5 s apart) and then it is too old.
    components.redis.hset(events.keys.event(rid), "accepted", repr(time.time() - 56))
    work(until=lambda: (events.get_event(components.redis, rid) or {}).get("state") == "done")
    ev = events.get_event(components.redis, rid)
    assert ev["condition"] == "EventAgeExceeded"
    assert int(ev["throttles"]) >= 2, ev  # throttles do not use up MaximumRetryAttempts=0
    assert ev["invokes"] == "0"


def test_success_destination_may_be_another_function(client: Any, fns: Any, components: Any, fast: Any,
                                                     work: Any) -> None:
    acct = components.settings.account_id
    fns.create("async-first", {"app.py": APP}, handler="app.ok")
    fns.create("async-second", {"app.py": APP}, handler="app.ok")
    queues.create_queue(components, acct, "chain")
    second = f"arn:aws:lambda:us-east-1:{acct}:function:async-second"
    configure(client, "async-first", DestinationConfig={"OnSuccess": {"Destination": second}})
    configure(client, "async-second", DestinationConfig={"OnSuccess": {"Destination": qarn(components, "chain")}})
    rid = event_invoke(client, "async-first", {"hop": 1})
    got: list[dict[str, Any]] = []
    work(until=lambda: got.extend(drain(components, "chain")) or got)
    [record] = got
    # async-second was invoked asynchronously with async-first's record as its event.
    inner = record["requestPayload"]
    assert inner["requestContext"]["requestId"] == rid
    assert inner["requestContext"]["condition"] == "Success"
    assert inner["responsePayload"]["got"] == {"hop": 1}
    assert record["responsePayload"]["got"] == inner
    assert record["requestContext"]["functionArn"].endswith(":function:async-second:$LATEST")


def test_a_job_runs_its_event_once(client: Any, fns: Any, components: Any, fast: Any, runtime: Any) -> None:
    fns.create("async-once", {"app.py": APP}, handler="app.ok")
    rid = event_invoke(client, "async-once", {})
    assert events.run(components, components.queue, runtime.invoker, rid, 1) == "Success"
    # The same job again (RQ retried it, or two sweepers enqueued it): nothing happens.
    assert events.run(components, components.queue, runtime.invoker, rid, 1) == "skipped"
    assert events.run(components, components.queue, runtime.invoker, rid, 2) == "skipped"
    assert events.get_event(components.redis, rid)["invokes"] == "1"


def test_event_to_an_alias_runs_the_alias(client: Any, fns: Any, components: Any, fast: Any, work: Any) -> None:
    fns.create("async-alias", {"app.py": APP}, handler="app.ok")
    fns.publish_version("async-alias")
    fns.create_alias("async-alias", "live", "1")
    queues.create_queue(components, components.settings.account_id, "alias-done")
    configure(client, "async-alias:live",
              DestinationConfig={"OnSuccess": {"Destination": qarn(components, "alias-done")}})
    rid = event_invoke(client, "async-alias", {"x": 1}, qualifier="live")
    got: list[dict[str, Any]] = []
    work(until=lambda: got.extend(drain(components, "alias-done")) or got)
    [record] = got
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["functionArn"].endswith(":function:async-alias:live")
    assert record["responseContext"]["executedVersion"] == "1"


def test_deprecated_invoke_async_queues_an_event(lambda_client: Any, fns: Any, components: Any, fast: Any,
                                                 work: Any) -> None:
    fns.create("async-legacy", {"app.py": APP}, handler="app.ok")
    resp = lambda_client.invoke_async(FunctionName="async-legacy", InvokeArgs=b'{"old": true}')
    assert resp["Status"] == 202
    rid = resp["ResponseMetadata"]["RequestId"]
    work(until=lambda: (events.get_event(components.redis, rid) or {}).get("state") == "done")
    assert events.get_event(components.redis, rid)["condition"] == "Success"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke_async(FunctionName="nope", InvokeArgs=b"{}")


def test_boto3_event_invocation(lambda_client: Any, fns: Any, components: Any) -> None:
    fns.create("async-boto", {"app.py": APP}, handler="app.ok")
    resp = lambda_client.invoke(FunctionName="async-boto", InvocationType="Event", Payload=b'{"b": 1}')
    assert resp["StatusCode"] == 202 and resp["Payload"].read() == b""
    ev = events.get_event(components.redis, resp["ResponseMetadata"]["RequestId"])
    assert ev is not None and json.loads(ev["payload"]) == {"b": 1}


def test_a_worker_with_two_processes_runs_events(client: Any, fns: Any, components: Any,
                                                 worker_processes: Any) -> None:
    from rq import Worker
    from support.triggers import wait_for

    fns.create("async-multi", {"app.py": APP}, handler="app.ok")
    rids = [event_invoke(client, "async-multi", {"i": i}) for i in range(12)]
    proc = worker_processes(args=("--processes", "2"))
    assert wait_for(lambda: len(Worker.all(connection=components.redis)) == 2, 20), proc.output()
    assert wait_for(lambda: all((events.get_event(components.redis, r) or {}).get("condition") == "Success"
                                for r in rids), 40), proc.output()
