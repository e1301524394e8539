"""GET /lamina/v1/usage: validation, who sees which account, CSV, prices (the metered counters are written
here as Metrics writes them; tests/worker/test_usage_metering.py meters real invocations)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from lamina.services.iam import iam
from lamina.services.invoke.metrics import Metrics
from support.auth import client_for


def _metered(components: Any, account: str, name: str, memory: int, durations: list[float], at: float) -> None:
    metrics = Metrics(components.redis, clock=lambda: at)
    for i, d in enumerate(durations):
        metrics.invoked(account, name, cold=i == 0, duration_ms=d, error_type="ValueError" if i == 0 else None,
                        qualifier=None, memory_mb=memory)
    metrics.throttled(account, name, "live")
    metrics.close()


def test_usage_is_reported_per_day_with_lambdas_rounding_and_a_cost(client: Any, components: Any) -> None:
    account = components.settings.account_id
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - dt.timedelta(days=1)
    # 0.2 ms bills 1 ms; 10.01 ms bills 11 ms (Lambda rounds up to the millisecond).
    _metered(components, account, "team-a-fn", 512, [0.2, 10.01], yesterday.timestamp())
    _metered(components, account, "team-a-fn", 512, [100.0], today.timestamp())
    got = client.get("/lamina/v1/usage").get_json()
    rows = [r for r in got["Usage"] if r["FunctionName"] == "team-a-fn" and r["Qualifier"] == "$LATEST"]
    assert [r["Period"] for r in rows] == [yesterday.date().isoformat(), today.date().isoformat()]
    first = rows[0]
    assert (first["Requests"], first["Errors"], first["BilledDurationMs"]) == (2, 1, 12)
    assert first["GBSeconds"] == pytest.approx(12 * 512 / 1024 / 1000)
    expected = 12 * 512 / 1024 / 1000 * 0.0000166667 + 2 / 1e6 * 0.20
    assert first["Cost"] == pytest.approx(expected, rel=1e-6)
    throttled = [r for r in got["Usage"] if r["Qualifier"] == "live"]
    assert throttled and all(r["Throttles"] == 1 and r["Requests"] == 0 for r in throttled)
    total = client.get("/lamina/v1/usage?Granularity=TOTAL&FunctionName=team-a-fn").get_json()["Usage"]
    latest = [r for r in total if r["Qualifier"] == "$LATEST"]
    assert len(latest) == 1 and latest[0]["Requests"] == 3 and latest[0]["BilledDurationMs"] == 112
    monthly = client.get("/lamina/v1/usage?Granularity=monthly").get_json()
    assert monthly["Granularity"] == "MONTHLY" and {r["Period"][:4] for r in monthly["Usage"]} == {str(today.year)}
    # CSV, for a spreadsheet or a billing system: by Format=csv or Accept.
    for resp in (client.get("/lamina/v1/usage?Format=csv"),
                 client.get("/lamina/v1/usage", headers={"Accept": "text/csv"})):
        assert resp.status_code == 200 and resp.mimetype == "text/csv"
        table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
        assert {r["FunctionName"] for r in table} == {"team-a-fn"} and "GBSeconds" in table[0]


def test_an_account_sees_its_own_usage_and_the_platform_admin_sees_every_account(app: Any, components: Any,
                                                                                 client: Any) -> None:
    other = iam.create_account(components, "team-b")
    other_admin = iam.ensure_account_user_key(components, other, "team-b", "lead", admin=True)
    now = dt.datetime.now(dt.UTC).timestamp()
    _metered(components, components.settings.account_id, "platform-fn", 128, [5.0], now)
    _metered(components, other, "team-b-fn", 128, [5.0], now)
    theirs = client_for(app, other_admin)
    seen = {r["AccountId"] for r in theirs.get("/lamina/v1/usage").get_json()["Usage"]}
    assert seen == {other}  # an account's own admin: its account only
    refused = theirs.get(f"/lamina/v1/usage?AccountId={components.settings.account_id}")
    assert refused.status_code == 403 and refused.headers["X-Amzn-ErrorType"] == "AccessDeniedException"
    everyone = {r["AccountId"] for r in client.get("/lamina/v1/usage").get_json()["Usage"]}
    assert everyone == {components.settings.account_id, other}  # the platform's administrator: all
    one = {r["AccountId"] for r in client.get(f"/lamina/v1/usage?AccountId={other}").get_json()["Usage"]}
    assert one == {other}


@pytest.mark.parametrize("query", ["Start=yesterday", "End=2026-13-01", "Start=2026-02-01&End=2026-01-01",
                                   "Start=2024-01-01&End=2026-01-01", "Granularity=HOURLY", "Format=xml",
                                   "FunctionName=a%20b", "Bogus=1", "Start=2026-01-01T00:00:00"])
def test_bad_usage_queries_are_refused_by_name(client: Any, query: str) -> None:
    resp = client.get(f"/lamina/v1/usage?{query}")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
    assert resp.get_json()["Message"]


def test_usage_needs_credentials(app: Any) -> None:
    resp = client_for(app, None).get("/lamina/v1/usage")
    assert resp.status_code == 403


def test_lamina_usage_prints_a_table_json_and_csv(live_server: Any, components: Any) -> None:
    from click.testing import CliRunner
    from lamina.cli.main import cli

    now = dt.datetime.now(dt.UTC).timestamp()
    _metered(components, components.settings.account_id, "cli-billed", 2048, [1000.0], now)

    def run(*args: str) -> str:
        out = CliRunner().invoke(cli, ["usage", *args, "--endpoint", live_server.url])
        assert out.exit_code == 0, out.output
        return out.output

    table = run("--function", "cli-billed")
    assert "cli-billed" in table and "2.0" in table and "total cost" in table  # 1 s at 2 GB
    import json

    doc = json.loads(run("--granularity", "total", "--json"))
    assert doc["Granularity"] == "TOTAL" and any(r["FunctionName"] == "cli-billed" for r in doc["Usage"])
    lines = run("--csv", "--function", "cli-billed").splitlines()
    assert lines[0].startswith("Period,AccountId") and len(lines) == 3  # $LATEST and the throttled alias
    bad = CliRunner().invoke(cli, ["usage", "--start", "soon", "--endpoint", live_server.url])
    assert bad.exit_code != 0 and "InvalidParameterValueException" in bad.output
