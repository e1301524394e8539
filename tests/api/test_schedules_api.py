"""Schedules through lamina's API: create/list/get/disable/enable/delete, expression validation, and
removal together with their function."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lamina.errors import InvalidParameterValueException
from lamina.services.triggers.schedules import parse_expression
from support.functions import Functions

APP = "def handler(event, context):\n    return event\n"


@pytest.fixture
def fn(client: Any, components: Any) -> str:
    Functions(client, components, None).create("sched-fn", {"app.py": APP})
    return "sched-fn"


def test_schedule_crud(client: Any, fn: str) -> None:
    resp = client.post("/lamina/v1/schedules", json={
        "Name": "every-5", "FunctionName": fn, "ScheduleExpression": "rate(5 minutes)", "Description": "d",
    })
    assert resp.status_code == 201, resp.get_data(as_text=True)
    created = resp.get_json()
    assert created["Arn"] == "arn:aws:events:us-east-1:000000000000:rule/every-5"
    assert created["State"] == "ENABLED" and created["ScheduleExpression"] == "rate(5 minutes)"
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:sched-fn"
    assert "NextFireTime" in created
    noon = client.post("/lamina/v1/schedules", json={
        "Name": "noon", "FunctionName": fn, "ScheduleExpression": "cron(0 12 * * ? *)", "Input": {"k": 1},
    }).get_json()
    assert noon["NextFireTime"].endswith("T12:00:00.000+0000") and noon["Input"] == '{"k": 1}'
    assert client.post("/lamina/v1/schedules", json={
        "Name": "noon", "FunctionName": fn, "ScheduleExpression": "rate(1 hour)"}).status_code == 409
    listed = client.get("/lamina/v1/schedules").get_json()["Schedules"]
    assert [s["Name"] for s in listed] == ["every-5", "noon"]
    assert [s["Name"] for s in client.get(f"/lamina/v1/schedules?FunctionName={fn}").get_json()["Schedules"]] == [
        "every-5", "noon"]
    disabled = client.put("/lamina/v1/schedules/noon", json={"State": "DISABLED"}).get_json()
    assert disabled["State"] == "DISABLED" and "NextFireTime" not in disabled
    assert client.put("/lamina/v1/schedules/noon", json={"State": "ENABLED"}).get_json()["State"] == "ENABLED"
    assert client.delete("/lamina/v1/schedules/noon").status_code == 204
    assert client.get("/lamina/v1/schedules/noon").status_code == 404
    assert client.delete("/lamina/v1/schedules/noon").status_code == 404


def test_schedule_targets_must_exist(client: Any, fn: str) -> None:
    resp = client.post("/lamina/v1/schedules", json={
        "Name": "x", "FunctionName": "ghost", "ScheduleExpression": "rate(1 minute)"})
    assert resp.status_code == 404
    resp = client.post("/lamina/v1/schedules", json={
        "Name": "x", "FunctionName": fn, "Qualifier": "nope", "ScheduleExpression": "rate(1 minute)"})
    assert resp.status_code == 404
    for bad in ("rate(0 minutes)", "rate(5 fortnights)", "cron(0 12 * * * *)", "cron(0 12 * *)", "every day",
                "rate(30 seconds)"):
        resp = client.post("/lamina/v1/schedules", json={"Name": "x", "FunctionName": fn, "ScheduleExpression": bad})
        assert (resp.status_code, resp.headers["X-Amzn-ErrorType"]) == (400, "InvalidParameterValueException"), bad


def test_deleting_the_function_deletes_its_schedules(client: Any, fn: str) -> None:
    client.post("/lamina/v1/schedules", json={"Name": "s", "FunctionName": fn, "ScheduleExpression": "rate(1 day)"})
    assert client.delete(f"/2015-03-31/functions/{fn}").status_code in (200, 204)
    assert client.get("/lamina/v1/schedules").get_json()["Schedules"] == []


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_eventbridge_expressions() -> None:
    noon = parse_expression("cron(0 12 * * ? *)")
    assert noon.cron == "0 12 * * *"
    assert noon.next_due(0, _ts("2026-03-01T12:00:00")) == _ts("2026-03-02T12:00:00")
    assert noon.latest_due(0, _ts("2026-03-01T12:00:00")) == _ts("2026-03-01T12:00:00")
    # EventBridge numbers days from Sunday = 1: 2 is Monday (2026-03-02 is a Monday).
    monday = parse_expression("cron(30 8 ? * 2 *)")
    assert monday.next_due(0, _ts("2026-02-28T00:00:00")) == _ts("2026-03-02T08:30:00")
    weekdays = parse_expression("cron(0 18 ? * MON-FRI *)")
    assert weekdays.next_due(0, _ts("2026-02-28T00:00:00")) == _ts("2026-03-02T18:00:00")
    only_2027 = parse_expression("cron(0 0 1 1 ? 2027)")
    assert only_2027.next_due(0, _ts("2026-01-01T00:00:01")) == _ts("2027-01-01T00:00:00")
    rate = parse_expression("rate(5 minutes)")
    assert rate.period_s == 300
    assert rate.latest_due(1000.0, 1299.0) is None and rate.latest_due(1000.0, 1300.0) == 1300.0
    assert parse_expression("rate(1 day)").period_s == 86400
    assert parse_expression("rate(2 seconds)", min_rate_s=1).period_s == 2
    with pytest.raises(InvalidParameterValueException):
        parse_expression("rate(2 seconds)")


def test_deleting_an_alias_or_version_deletes_the_triggers_on_it(client: Any, components: Any, fn: str) -> None:
    assert client.post(f"/2015-03-31/functions/{fn}/versions", json={}).status_code == 201
    assert client.post(f"/2015-03-31/functions/{fn}/aliases",
                       json={"Name": "live", "FunctionVersion": "1"}).status_code == 201
    for name, qualifier in (("on-alias", "live"), ("on-version", "1"), ("on-latest", None)):
        body = {"Name": name, "FunctionName": fn, "ScheduleExpression": "rate(1 hour)"}
        if qualifier:
            body["Qualifier"] = qualifier
        assert client.post("/lamina/v1/schedules", json=body).status_code == 201
    assert client.post(f"/2021-10-31/functions/{fn}/url?Qualifier=live", json={"AuthType": "NONE"}).status_code == 201
    assert client.delete(f"/2015-03-31/functions/{fn}/aliases/live").status_code == 204
    assert client.get(f"/2021-10-31/functions/{fn}/url?Qualifier=live").status_code == 404
    assert client.delete(f"/2015-03-31/functions/{fn}?Qualifier=1").status_code in (200, 204)
    names = [s["Name"] for s in client.get("/lamina/v1/schedules").get_json()["Schedules"]]
    assert names == ["on-latest"]
