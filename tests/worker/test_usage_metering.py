"""Usage metering of real invocations (issue 18): synchronous ones through the API, asynchronous and scheduled
ones run by a `lamina worker` in its own process; requests, errors, billed duration as the REPORT lines bill
it, GB-seconds at the function's memory; the figures outlive the processes that metered them."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from lamina.app import create_app
from lamina.services.events import events
from lamina.worker import schedules as worker_schedules
from support.auth import client_for
from support.triggers import wait_for

APP = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("nope")
    return {"ok": True}
"""


def _usage(client: Any) -> dict[str, Any]:
    rows = [r for r in client.get("/lamina/v1/usage?Granularity=TOTAL&FunctionName=billed").get_json()["Usage"]
            if r["Qualifier"] == "$LATEST"]
    return rows[0] if rows else {"Requests": 0}


def test_sync_async_and_scheduled_invocations_are_metered_as_lambda_bills_them(
        client: Any, fns: Any, components: Any, worker_processes: Any, credentials: Any) -> None:
    fns.create("billed", {"app.py": APP}, memory=256)
    billed_by_report = 0
    for body in (b"{}", b"{}", b'{"fail": true}'):
        resp = client.post("/2015-03-31/functions/billed/invocations", data=body,
                           headers={"X-Amz-Log-Type": "Tail"})
        assert resp.status_code == 200
        tail = base64.b64decode(resp.headers["X-Amz-Log-Result"]).decode()
        billed_by_report += int(re.search(r"Billed Duration: (\d+) ms", tail).group(1))  # type: ignore[union-attr]
    rids = [client.post("/2015-03-31/functions/billed/invocations", data=b"{}",
                        headers={"X-Amz-Invocation-Type": "Event"}).headers["X-Amzn-RequestId"] for _ in range(2)]
    created = client.post("/lamina/v1/schedules", json={"Name": "bill-tick", "FunctionName": "billed",
                                                          "ScheduleExpression": "rate(1 minute)"})
    assert created.status_code == 201, created.get_data(as_text=True)
    fired = worker_schedules.run_due(components, time.time() + 60.5)
    assert len(fired) == 1
    worker = worker_processes()
    assert wait_for(lambda: all((events.get_event(components.redis, r) or {}).get("state") == "done"
                                for r in [*rids, *fired]), 60), worker.output()
    # The API and the worker flush their meters every 2 s.
    assert wait_for(lambda: _usage(client)["Requests"] == 6, 15), _usage(client)
    worker.kill()  # SIGKILL: what it flushed stays
    row = _usage(client)
    assert row["Errors"] == 1 and row["Throttles"] == 0
    assert row["BilledDurationMs"] >= billed_by_report + 3  # three more invocations, at least 1 ms each
    assert abs(row["GBSeconds"] - row["BilledDurationMs"] * 256 / 1024 / 1000) < 1e-6
    # A new API process (nothing in memory) reads the same figures: they live with the platform's state.
    fresh = client_for(create_app(components=components), credentials)
    assert _usage(fresh) == row
    # ... and so does Prometheus.
    text = client.get("/metrics").get_data(as_text=True)
    assert 'lamina_gb_seconds_total{account="000000000000",function="billed"}' in text
