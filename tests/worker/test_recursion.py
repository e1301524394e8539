"""Recursive loop detection (issue 16) on real workers and functions that call lamina back with boto3: a
function that re-invokes itself asynchronously, or feeds the queue it is mapped to, is stopped at the 17th
invocation of the chain (RecursiveLoop Terminate, the default), its event sent on failure / its message to
the dead-letter queue; with RecursiveLoop Allow the chain goes on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from lamina.services.events import events
from lamina.services.iam import iam
from lamina.services.invoke import lineage
from lamina.services.queues import messages, queues
from lamina.services.triggers import event_sources
from support.gateway import serve_on_gateway
from support.invoking import invoke
from support.lambda_api import ROLE

pytestmark = pytest.mark.docker

SELF_INVOKE = """
import json, boto3
lam = boto3.client("lambda")

def handler(event, context):
    n = event.get("n", 1)
    lam.invoke(FunctionName=context.function_name, InvocationType="Event", Payload=json.dumps({"n": n + 1}))
    return n
"""

REQUEUE = """
import json, boto3
sqs = boto3.client("sqs")

def handler(event, context):
    url = sqs.get_queue_url(QueueName="loop")["QueueUrl"]
    for record in event["Records"]:
        n = json.loads(record["body"])["n"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n + 1}))
"""


@pytest.fixture
def callback(app: Any, invoker: Any, runtime: Any, docker_client: Any, settings: Any, components: Any,
             ) -> Iterator[str]:
    """The API where functions (of the app's and the worker's invoker) reach it, and a role that may call it."""
    role = ROLE.rsplit("/", 1)[1]
    iam.put_role(components, components.settings.account_id, role,
                 [{"Action": ["lambda:InvokeFunction", "sqs:*"], "Resource": ["*"]}])
    with serve_on_gateway(app, docker_client, settings, invoker, runtime.invoker) as url:
        yield url


def _events(components: Any, name: str) -> list[dict[str, str]]:
    found = []
    for key in components.redis.scan_iter(match=events.keys.PREFIX + "*"):
        ev = events.get_event(components.redis, key.decode()[len(events.keys.PREFIX):])
        if ev and ev.get("function") == name:
            found.append(ev)
    return found


def _chain(components: Any, name: str) -> dict[int, dict[str, str]]:
    return {json.loads(ev["payload"]).get("n", 1): ev for ev in _events(components, name)}


def test_an_async_self_invoking_function_is_stopped_at_the_17th_invocation(
    client: Any, fns: Any, components: Any, fast: Any, work: Any, callback: str,
) -> None:
    acct = components.settings.account_id
    fns.create("ouroboros", {"app.py": SELF_INVOKE}, timeout=30, memory=256)
    queues.create_queue(components, acct, "stopped")
    arn = queues.queue_arn(components.settings.region, acct, "stopped")
    assert client.put("/2019-09-25/functions/ouroboros/event-invoke-config", json={
        "DestinationConfig": {"OnFailure": {"Destination": arn}}}).status_code == 200
    resp = invoke(client, "ouroboros", {}, headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 202

    def stopped() -> bool:
        last = _chain(components, "ouroboros").get(lineage.MAX_CHAIN + 1)
        return last is not None and last.get("state") == "done"

    work(until=stopped, limit_s=120)
    chain = _chain(components, "ouroboros")
    assert sorted(chain) == list(range(1, lineage.MAX_CHAIN + 2))  # 16 ran, the 17th was stopped
    assert all(chain[n]["condition"] == "Success" for n in range(1, lineage.MAX_CHAIN + 1))
    last = chain[lineage.MAX_CHAIN + 1]
    assert last["condition"] == events.RECURSIVE_CONDITION and last["invokes"] == "0"
    assert lineage.count(last["trace"]) == lineage.MAX_CHAIN + 1
    [record] = [json.loads(m.body) for m in messages.receive(components, acct, "stopped", max_messages=10)]
    assert record["requestContext"]["condition"] == events.RECURSIVE_CONDITION
    assert record["requestPayload"] == {"n": lineage.MAX_CHAIN + 1}
    text = client.get("/metrics").get_data(as_text=True)
    assert 'lamina_recursive_invocations_dropped_total{account="000000000000",function="ouroboros"} 1.0' in text


def test_allow_lets_the_chain_go_on(client: Any, fns: Any, components: Any, fast: Any, work: Any,
                                    callback: str) -> None:
    fns.create("allowed-loop", {"app.py": SELF_INVOKE}, timeout=30, memory=256)
    assert client.put("/2024-08-31/functions/allowed-loop/recursion-config",
                      json={"RecursiveLoop": "Allow"}).get_json() == {"RecursiveLoop": "Allow"}
    assert invoke(client, "allowed-loop", {}, headers={"X-Amz-Invocation-Type": "Event"}).status_code == 202
    beyond = lineage.MAX_CHAIN + 3
    work(until=lambda: (_chain(components, "allowed-loop").get(beyond) or {}).get("state") == "done", limit_s=150,
         one_by_one=True)
    chain = _chain(components, "allowed-loop")
    assert all(chain[n]["condition"] == "Success" for n in range(1, beyond + 1))
    # End the loop: an event of a function that is gone is dropped.
    assert client.delete("/2015-03-31/functions/allowed-loop").status_code == 204
    work(limit_s=60, one_by_one=True)


def test_a_function_feeding_its_own_queue_is_stopped_into_the_dead_letter_queue(
    client: Any, fns: Any, components: Any, runtime: Any, callback: str,
) -> None:
    acct = components.settings.account_id
    queues.create_queue(components, acct, "loop-dlq")
    queues.create_queue(components, acct, "loop", dead_letter="loop-dlq", max_receive_count=5)
    fns.create("requeue", {"app.py": REQUEUE}, timeout=30, memory=256)
    resp = client.post("/2015-03-31/event-source-mappings", json={
        "FunctionName": "requeue", "EventSourceArn": queues.queue_arn(components.settings.region, acct, "loop"),
        "BatchSize": 1})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    mapping = event_sources.get(components, acct, resp.get_json()["UUID"])
    messages.send_messages(components, acct, "loop", [json.dumps({"n": 1})])
    outcomes = []
    for _ in range(lineage.MAX_CHAIN + 5):
        outcome = event_sources.poll(components, runtime.invoker, mapping).outcome
        outcomes.append(outcome)
        if outcome == "recursive":
            break
    assert outcomes == ["success"] * lineage.MAX_CHAIN + ["recursive"], outcomes
    [dead] = messages.receive(components, acct, "loop-dlq", max_messages=10)
    assert json.loads(dead.body) == {"n": lineage.MAX_CHAIN + 1}
    assert messages.receive(components, acct, "loop", max_messages=10) == []
