"""Invocations run by a `lamina worker` in its own process (no shared prometheus directory: it could be on
another host) reach the API's /metrics through Redis, as the lamina_worker_* families."""

from __future__ import annotations

import os
import re
from typing import Any

from lamina.services.events import events
from support.triggers import wait_for

APP = """
def ok(event, context):
    return {"ok": event}

def bad(event, context):
    raise ValueError("nope")
"""


def _event(client: Any, name: str) -> str:
    resp = client.post(f"/2015-03-31/functions/{name}/invocations", data=b"{}",
                       headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return resp.headers["X-Amzn-RequestId"]


def test_worker_invocations_are_scraped_from_the_api(client: Any, fns: Any, components: Any,
                                                     worker_processes: Any) -> None:
    fns.create("wm-ok", {"app.py": APP}, handler="app.ok")
    fns.create("wm-bad", {"app.py": APP}, handler="app.bad")
    rids = [_event(client, "wm-ok"), _event(client, "wm-ok"), _event(client, "wm-bad")]
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # the worker process shares no directory with the API
    proc = worker_processes()
    assert wait_for(lambda: all((events.get_event(components.redis, r) or {}).get("state") == "done"
                                for r in rids[:2]), 60), proc.output()

    def scraped() -> str:
        return client.get("/metrics").get_data(as_text=True)

    account = components.settings.account_id

    def count(text: str, name: str) -> float:
        found = re.findall(rf'lamina_worker_invocations_total\{{account="{account}",function="{name}",'
                           rf'start="(?:cold|warm)"\}} ([0-9.e+]+)', text)
        return sum(float(x) for x in found)

    # Workers flush every 2 s.
    assert wait_for(lambda: count(scraped(), "wm-ok") == 2 and count(scraped(), "wm-bad") >= 1, 15), scraped()
    text = scraped()
    errors = [line for line in text.splitlines() if line.startswith("lamina_worker_errors_total{")]
    assert any('function="wm-bad"' in line and 'error_type="ValueError"' in line and not line.endswith(" 0.0")
               for line in errors), errors
    assert f'lamina_worker_duration_seconds_count{{account="{account}",function="wm-ok"}} 2.0' in text
    assert "# TYPE lamina_worker_init_duration_seconds histogram" in text
