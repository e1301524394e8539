"""Schedules fire: each due time exactly once (two scheduler loops with their own connections), within about
a second, as an Event invocation of the function or alias carrying EventBridge's scheduled-event document."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from lamina.services.events import events
from lamina.services.queues import messages, queues
from lamina.services.triggers import schedules
from lamina.wiring import build_components
from lamina.worker import schedules as worker_schedules

APP = """
def handler(event, context):
    return {"event": event, "arn": context.invoked_function_arn}
"""


def _create(client: Any, name: str, fn: str, expression: str, **extra: Any) -> dict[str, Any]:
    resp = client.post("/lamina/v1/schedules", json={"Name": name, "FunctionName": fn,
                                                      "ScheduleExpression": expression, **extra})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def _fired(r: Any) -> dict[float, str]:
    """due time -> request id, from the fire markers."""
    out = {}
    for key in r.scan_iter("lamina:sched:*"):
        out[int(key.decode().rsplit(":", 1)[1]) / 1000] = r.get(key).decode()
    return out


def test_rate_fires_each_due_time_once(client: Any, components: Any, fast: Any) -> None:
    from support.functions import Functions

    Functions(client, components, None).create("tick", {"app.py": APP})
    _create(client, "five", "tick", "rate(5 minutes)")
    with components.sessions() as s:
        [(row, _)] = schedules.store.list_schedules(s)
        t0 = row.created.timestamp()
    assert worker_schedules.run_due(components, t0 + 299.9) == []
    first = worker_schedules.run_due(components, t0 + 300.2)
    assert len(first) == 1
    assert worker_schedules.run_due(components, t0 + 300.4) == []
    assert worker_schedules.run_due(components, t0 + 599) == []
    assert len(worker_schedules.run_due(components, t0 + 600.0)) == 1
    # Missed by more than a minute: not fired late.
    assert worker_schedules.run_due(components, t0 + 961) == []
    ev = events.get_event(components.redis, first[0])
    assert ev["function"] == "tick" and ev["source"] == "schedule" and ev["state"] == "queued"
    doc = json.loads(ev["payload"])
    assert doc == {
        "version": "0", "id": first[0], "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": doc["time"], "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/five"], "detail": {},
    }
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 300)) == doc["time"]


def test_disabled_schedules_do_not_fire(client: Any, components: Any, fast: Any) -> None:
    from support.functions import Functions

    Functions(client, components, None).create("quiet", {"app.py": APP})
    _create(client, "off", "quiet", "rate(1 minute)", State="DISABLED")
    assert worker_schedules.run_due(components, time.time() + 60.5) == []


def test_two_schedulers_fire_each_due_time_exactly_once_and_on_time(
    client: Any, components: Any, settings: Any, fast: Any
) -> None:
    from support.functions import Functions

    Functions(client, components, None).create("double", {"app.py": APP})
    _create(client, "every-second", "double", "rate(1 second)")
    _create(client, "every-2", "double", "rate(2 seconds)")
    others = [build_components(fast, migrate=False) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=worker_schedules.loop, args=(c, stop, 0.02)) for c in others]
    started = time.time()
    for t in threads:
        t.start()
    time.sleep(4.5)
    stop.set()
    for t in threads:
        t.join()
    for c in others:
        c.close()
    fired = _fired(components.redis)
    rids = list(fired.values())
    assert len(rids) == len(set(rids))
    assert len(components.queue) == len(fired)  # one job per due time, not one per scheduler
    # rate(1 second) and rate(2 seconds) over ~4.5 s: 4 + 2 due times, each fired once.
    assert 5 <= len(fired) <= 7, fired
    for due, rid in fired.items():
        ev = events.get_event(components.redis, rid)
        assert ev is not None and ev["source"] == "schedule"
        assert 0 <= float(ev["accepted"]) - due < 1.5, (due, ev["accepted"])  # "about a second", loaded machine
        assert due > started - 1


@pytest.mark.docker
def test_a_schedule_on_an_alias_runs_the_alias_with_the_scheduled_event(
    client: Any, components: Any, fast: Any, fns: Any, work: Any
) -> None:
    fns.create("aliased", {"app.py": APP})
    fns.publish_version("aliased")
    fns.create_alias("aliased", "prod", "1")
    acct = components.settings.account_id
    queues.create_queue(components, acct, "sched-out")
    arn = queues.queue_arn(components.settings.region, acct, "sched-out")
    assert client.put("/2019-09-25/functions/aliased/event-invoke-config?Qualifier=prod",
                      json={"DestinationConfig": {"OnSuccess": {"Destination": arn}}}).status_code == 200
    made = _create(client, "nightly", "aliased", "cron(0 3 * * ? *)", Qualifier="prod")
    assert made["FunctionArn"].endswith(":function:aliased:prod")
    with components.sessions() as s:
        [(row, _)] = schedules.store.list_schedules(s)
        due = schedules.parse_expression(row.expression).next_due(row.created.timestamp(), time.time())
    [rid] = worker_schedules.run_due(components, due + 0.1)
    got: list[Any] = []
    work(until=lambda: got.extend(messages.receive(components, acct, "sched-out")) or got)
    record = json.loads(got[0].body)
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["functionArn"].endswith(":function:aliased:prod")
    assert record["responseContext"]["executedVersion"] == "1"
    event = record["responsePayload"]["event"]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"].endswith("T03:00:00Z")
    assert record["responsePayload"]["arn"].endswith(":function:aliased:prod")
