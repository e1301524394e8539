"""Nothing accepted is lost: a `lamina worker` killed with SIGKILL mid-invocation, and a Redis restart."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from lamina.app import create_app
from lamina.services.events import events
from lamina.services.queues import messages, queues
from lamina.wiring import build_components
from lamina.worker import context
from lamina.worker.main import make_worker
from support.auth import client_for
from support.functions import Functions
from support.invoking import invoke
from support.servers import RedisServer
from support.triggers import FAST, wait_for

pytestmark = pytest.mark.docker

APP = """
import time

def slow(event, context):
    time.sleep(event.get("s", 0))
    return {"slept": event.get("s", 0), "rid": context.aws_request_id}
"""


def state(r: Any, rid: str) -> dict[str, str]:
    return events.get_event(r, rid) or {}


def test_a_worker_killed_mid_invocation_leaves_the_event_to_another_worker(
    client: Any, fns: Any, components: Any, fast: Any, worker_processes: Any
) -> None:
    acct = components.settings.account_id
    fns.create("slowpoke", {"app.py": APP}, handler="app.slow", timeout=20)
    queues.create_queue(components, acct, "survived")
    arn = queues.queue_arn(components.settings.region, acct, "survived")
    assert client.put("/2019-09-25/functions/slowpoke/event-invoke-config",
                      json={"DestinationConfig": {"OnSuccess": {"Destination": arn}}}).status_code == 200
    first = worker_processes()
    resp = invoke(client, "slowpoke", {"s": 4}, headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 202
    rid = resp.headers["x-amzn-RequestId"]
    assert wait_for(lambda: state(components.redis, rid).get("state") == "running", 20), first.output()
    time.sleep(1.5)  # well inside the 4 s invocation
    first.kill()
    assert state(components.redis, rid)["state"] == "running"
    assert not messages.receive(components, acct, "survived")

    second = worker_processes()
    assert wait_for(lambda: state(components.redis, rid).get("state") == "done", 40), second.output()
    ev = state(components.redis, rid)
    assert ev["condition"] == "Success"
    assert ev["recovered"] == "1"  # the sweep requeued it once the dead worker's lease ran out
    assert len(ev["starts"].split(",")) == 2
    [msg] = messages.receive(components, acct, "survived")
    record = json.loads(msg.body)
    assert record["requestContext"]["requestId"] == rid
    assert record["responsePayload"] == {"slept": 4, "rid": rid}


# A crash (SIGKILL) loses nothing with appendfsync always; a restart (SIGTERM: Redis flushes the AOF
# as it shuts down) loses nothing with everysec, the usual setting (docker-compose.yml, scripts/services.sh).
@pytest.mark.parametrize("fsync, stop", [("always", signal.SIGKILL), ("everysec", signal.SIGTERM)])
def test_accepted_events_survive_a_redis_crash_with_aof(
    fsync: str, stop: int,
    components: Any, settings: Any, invoker: Any, tmp_path: Path, credentials: Any
) -> None:
    server = RedisServer(tmp_path, fsync)
    server.start()
    own = build_components(settings.with_(redis_url=server.url, **FAST), migrate=False)
    app = create_app(components=own)
    client = client_for(app, credentials)
    try:
        Functions(client, own, app.extensions["lamina.invoker"]).create(
            "durable", {"app.py": APP}, handler="app.slow"
        )
        rids = []
        for i in range(20):
            resp = invoke(client, "durable", {"i": i}, headers={"X-Amz-Invocation-Type": "Event"})
            assert resp.status_code == 202
            rids.append(resp.headers["x-amzn-RequestId"])
        server.stop(stop)  # no RDB save (--save ""): only the append-only file is left
        server.start()
        assert all(state(own.redis, rid).get("state") == "queued" for rid in rids)
        assert len(own.queue) == 20
        rt = context.make_runtime(own)
        try:
            make_worker(rt).work(burst=True, with_scheduler=False)
        finally:
            rt.invoker.close()
        assert [state(own.redis, rid).get("condition") for rid in rids] == ["Success"] * 20
    finally:
        app.extensions["lamina.invoker"].close()
        own.close()
        server.stop()
