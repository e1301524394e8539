"""Metrics of real invocations: Prometheus /metrics and the stored series the console charts."""

from __future__ import annotations

from typing import Any

from lamina.services.invoke import metrics
from support.functions import Functions

APP = """
import time


def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def test_metrics_of_real_invocations(client: Any, fns: Functions) -> None:
    fns.create("metered", {"app.py": APP}, handler="app.handler")
    for body in (b"{}", b'{"sleep": 0.05}', b'{"fail": true}'):
        r = client.post("/2015-03-31/functions/metered/invocations", data=body)
        assert r.status_code == 200, r.get_data(as_text=True)
    fns.put_concurrency("metered", 0)
    assert client.post("/2015-03-31/functions/metered/invocations", data=b"{}").status_code == 429

    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "lamina_invocations_total", function="metered") == 3
    assert _sample(text, "lamina_invocations_total", function="metered", start="cold") == 1
    assert _sample(text, "lamina_errors_total", function="metered", error_type="ValueError") == 1
    assert _sample(text, "lamina_throttles_total", function="metered") == 1
    assert _sample(text, "lamina_duration_seconds_count", function="metered") == 3
    assert _sample(text, "lamina_init_duration_seconds_count", function="metered") == 1
    assert _sample(text, "lamina_concurrent_executions", function="metered") == 0
    assert "lamina_async_queue_depth{state=\"ready\"} 0.0" in text
    assert "lamina_async_oldest_event_age_seconds 0.0" in text

    got = client.get("/lamina/v1/functions/metered/metrics").get_json()
    assert got["period"] == 60 and len(got["timestamps"]) >= 60
    assert sum(got["invocations"]) == 3
    assert sum(got["errors"]) == 1 and got["errors_by_type"] == {"ValueError": 1}
    assert sum(got["throttles"]) == 1
    assert sum(got["cold_starts"]) == 1
    assert max(got["concurrency"]) == 1
    p99 = [v for v in got["duration_p99"] if v is not None]
    assert p99 and p99[-1] >= 25  # the 50 ms sleep lands in the 50-100 ms bucket
    summary = client.get("/lamina/v1/metrics/last-hour?functions=metered,other").get_json()
    assert summary == {"metered": {"invocations": 3, "errors": 1}, "other": {"invocations": 0, "errors": 0}}


def test_series_aggregation_and_percentiles(redis: Any) -> None:
    now = [1_700_000_000.0]
    m = metrics.Metrics(redis, clock=lambda: now[0])
    for i in range(100):
        m.invoked("000000000000", "agg", cold=i == 0, duration_ms=float(i + 1),
                  init_duration_ms=80.0 if i == 0 else None, error_type="Boom" if i % 10 == 0 else None)
    now[0] += 120
    m.begin("000000000000", "agg")
    m.begin("000000000000", "agg")
    m.throttled("000000000000", "agg")
    m.end("000000000000", "agg")
    m.end("000000000000", "agg")
    m.flush()
    s = metrics.read_series(redis, "000000000000", "agg", 1_700_000_000 - 600, 1_700_000_000 + 600, 300)
    assert s.period == 300 and len(s.timestamps) == 5 and sum(s.invocations) == 100
    assert sum(s.errors) == 10 and s.errors_by_type == {"Boom": 10}
    assert sum(s.throttles) == 1 and max(s.concurrency) == 2 and sum(s.cold_starts) == 1
    i = s.invocations.index(100)
    assert 40 <= s.duration_p50[i] <= 60 and 80 <= s.duration_p90[i] <= 100 and s.duration_p99[i] >= 90
    assert s.init_duration_avg[i] == 80.0
    m.close()
