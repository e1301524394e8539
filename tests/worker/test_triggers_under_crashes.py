"""Event source mappings and schedules while `lamina worker` is SIGKILLed: a batch in flight when its poller
died comes back after its visibility timeout and is processed (a stream's shard is taken over once the dead
poller's lease lapses); a schedule's due times each fire exactly
once across the restart (a due time no worker was alive for fires when the next one starts)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lamina.services.events import events
from support.triggers import wait_for
from test_esm_delivery import _count, _mapping, _queue
from test_schedules_firing import _create, _fired

pytestmark = pytest.mark.docker

APP = """
import time

def slow(event, context):
    time.sleep(3)
    return None

def ok(event, context):
    return {"n": len(event)}
"""


def test_a_batch_in_flight_when_its_poller_dies_comes_back_and_is_processed(
    client: Any, fns: Any, components: Any, worker_processes: Any
) -> None:
    fns.create("esm-crash", {"app.py": APP}, handler="app.slow", timeout=10)
    _mapping(client, "esm-crash", _queue(components, "crash-feed", visibility_timeout_s=6))
    from lamina.services.queues import messages

    messages.send_messages(components, components.settings.account_id, "crash-feed", ["one", "two"])
    first = worker_processes()
    # The poller took the batch (it is in flight) and the function runs: SIGKILL the worker mid-batch.
    assert wait_for(lambda: _count(components, "crash-feed") == (0, 2), 60), first.output()
    time.sleep(1.0)
    first.kill()
    assert _count(components, "crash-feed") == (0, 2)  # not lost, not deleted: hidden until the timeout
    second = worker_processes()
    assert wait_for(lambda: _count(components, "crash-feed") == (0, 0), 60), second.output()


def test_a_schedule_fires_each_due_time_exactly_once_across_a_worker_restart(
    client: Any, fns: Any, components: Any, fast: Any, worker_processes: Any
) -> None:
    fns.create("sched-crash", {"app.py": APP}, handler="app.ok")
    _create(client, "each-second", "sched-crash", "rate(1 second)")
    first = worker_processes(extra_env={"LAMINA_SCHEDULE_MIN_RATE": "1"})
    assert wait_for(lambda: len(_fired(components.redis)) >= 2, 30), first.output()
    first.kill()
    time.sleep(2.5)  # due times pass with no worker alive
    second = worker_processes(extra_env={"LAMINA_SCHEDULE_MIN_RATE": "1"})
    killed_at = time.time()
    assert wait_for(lambda: max(_fired(components.redis), default=0) > killed_at + 1, 30), second.output()
    second.stop()
    fired = _fired(components.redis)
    dues = sorted(fired)
    # Every second from the first due time to the last fired once: none skipped across the restart, none twice.
    assert dues == [dues[0] + i for i in range(len(dues))], dues
    rids = list(fired.values())
    assert len(rids) == len(set(rids))
    for rid in rids:
        assert events.get_event(components.redis, rid) is not None


def test_a_shard_whose_poller_dies_mid_batch_is_taken_over_and_nothing_is_lost(
    client: Any, fns: Any, components: Any, worker_processes: Any
) -> None:
    import json

    from lamina.services.streams import streams
    from lamina.services.triggers import event_sources

    logged = ("import base64, time\n\ndef handler(event, context):\n    time.sleep(2)\n"
              "    print('GOT', ' '.join(base64.b64decode(r['kinesis']['data']).decode() for r in event['Records']))\n")
    fns.create("kin-crash", {"app.py": logged}, handler="app.handler", timeout=3)
    stream = streams.create(components, "000000000000", "crash-stream", 1)
    made = client.post("/2015-03-31/event-source-mappings", json={
        "FunctionName": "kin-crash", "EventSourceArn": stream.arn, "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 2})
    assert made.status_code == 202, made.get_data(as_text=True)
    uuid = made.get_json()["UUID"]
    streams.put_records(components, stream, [("k", f"r{i}".encode(), None) for i in range(6)])
    first = worker_processes()
    lease = f"lamina:esm:{uuid}:lease:shardId-000000000000"
    assert wait_for(lambda: components.redis.exists(lease), 60), first.output()
    time.sleep(0.5)
    first.kill()  # mid-batch: its lease stays until the function's timeout + 30 s have passed
    second = worker_processes()
    last = streams.entry_id_of(streams.read(components, stream, stream.shards[0], "0-0", 10)[0][-1].sequence_number)[1]

    def caught_up() -> bool:
        cp = components.redis.hget(f"lamina:esm:{uuid}:cp", "shardId-000000000000")
        return cp is not None and cp.decode() == last

    assert wait_for(caught_up, 90), second.output()
    logs = json.loads(client.post("/", data=json.dumps({"logGroupName": "/aws/lambda/kin-crash",
                                                        "filterPattern": "GOT"}),
                                  headers={"X-Amz-Target": "Logs_20140328.FilterLogEvents",
                                           "Content-Type": "application/x-amz-json-1.1"}).get_data())
    seen = {r for e in logs["events"] for r in e["message"].split()[1:]}
    assert seen == {f"r{i}" for i in range(6)}  # at least once each: the killed batch was delivered again
    assert event_sources.get(components, "000000000000", uuid).state == "Enabled"
