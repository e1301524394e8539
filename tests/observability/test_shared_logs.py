"""LAMINA_LOG_STORE=postgres: function logs for API processes on several hosts (issue 17). Two API "hosts"
with data directories of their own share only PostgreSQL and Redis: what one host's invocations logged is
read, once and complete, through the other (FilterLogEvents, GetLogEvents, DescribeLogStreams, lamina's
own logs API), and a retention policy put through one applies on the other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lamina.app import create_app
from lamina.services.logs import shared
from lamina.wiring import build_components
from support.auth import client_for
from support.functions import Functions

APP = "def handler(event, context):\n    print('handled', event.get('n'))\n    return event.get('n')\n"


def logs_call(client: Any, op: str, **body: Any) -> dict[str, Any]:
    resp = client.post("/", data=json.dumps(body), headers={
        "X-Amz-Target": f"Logs_20140328.{op}", "Content-Type": "application/x-amz-json-1.1"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return json.loads(resp.get_data())


@pytest.fixture
def logs_in_postgres(components: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test app (host A) keeps its logs in PostgreSQL (set before the app is made)."""
    monkeypatch.setattr(components, "settings", components.settings.with_(log_store="postgres"))
    monkeypatch.setattr(shared, "PRUNE_EVERY_S", 0.0)


@pytest.fixture
def host_b(components: Any, credentials: Any, tmp_path: Path) -> Iterator[Any]:
    from lamina.services.iam import secrets

    # Another host: its own data directory; the same database, Redis and master key (as a fleet's hosts).
    keys = tuple(secrets.master_keys(components.settings))
    other = build_components(components.settings.with_(data_dir=tmp_path / "host-b", log_store="postgres",
                                                       master_keys=keys), migrate=False)
    yield client_for(create_app(components=other), credentials)
    other.engine.dispose()


def test_one_hosts_logs_are_read_through_another(logs_in_postgres: None, client: Any, fns: Functions,
                                                  host_b: Any, components: Any) -> None:
    fns.create("shared-logs", {"app.py": APP})
    for n in range(3):
        resp = client.post("/2015-03-31/functions/shared-logs/invocations", data=json.dumps({"n": n}))
        assert resp.status_code == 200
    # Host A wrote rows, no stream file: its own data directory has none until it reads.
    assert not (components.settings.data_dir / "logs" / components.settings.account_id / "shared-logs").exists()
    group = "/aws/lambda/shared-logs"
    found = logs_call(host_b, "FilterLogEvents", logGroupName=group, filterPattern="handled")
    assert sorted(e["message"].strip() for e in found["events"]) == ["handled 0", "handled 1", "handled 2"]
    reports = logs_call(host_b, "FilterLogEvents", logGroupName=group, filterPattern="REPORT")["events"]
    assert len(reports) == 3
    # Read again (mirrored once, never twice), and through host A too.
    again = logs_call(host_b, "FilterLogEvents", logGroupName=group, filterPattern="handled")["events"]
    assert len(again) == 3
    streams = logs_call(client, "DescribeLogStreams", logGroupName=group)["logStreams"]
    assert len(streams) == 1
    events = logs_call(client, "GetLogEvents", logGroupName=group, logStreamName=streams[0]["logStreamName"],
                       startFromHead=True)["events"]
    assert [e["message"] for e in events if e["message"].startswith("START")] and len(events) >= 9
    mine = host_b.get("/lamina/v1/functions/shared-logs/logs?limit=100").get_json()["events"]
    assert sum(1 for e in mine if e["message"].startswith("handled")) == 3
    # A retention policy put through host A is host B's too.
    logs_call(client, "PutRetentionPolicy", logGroupName=group, retentionInDays=7)
    described = logs_call(host_b, "DescribeLogGroups", logGroupNamePrefix=group)["logGroups"]
    assert described and described[0]["retentionInDays"] == 7
    logs_call(client, "DeleteRetentionPolicy", logGroupName=group)
    described = logs_call(host_b, "DescribeLogGroups", logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in described[0]


def test_the_mirror_settles_once_rows_are_old_and_copies_late_commits(logs_in_postgres: None, client: Any,
                                                                      fns: Functions, components: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from lamina.store import queries

    account = components.settings.account_id
    root = components.settings.data_dir / "logs" / account
    (root / shared.STATE).unlink(missing_ok=True)  # another test's mirror of rows the database no longer has
    line = b'{"ts": 1, "msg": "x"}\n'
    stream = "2026-12-06-[$LATEST]" + "a" * 32
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=shared.SETTLE_S + 5)
    with components.sessions.begin() as session:
        for _ in range(3):
            queries.add_log_chunk(session, account, "mirrored", stream, line, old)
    assert shared.sync(components, account) == 3
    settled, recent = shared._state(root)
    assert settled > 0 and not recent  # old rows settle: the next read starts after them
    with components.sessions.begin() as session:  # a young row: copied, remembered, not settled past
        queries.add_log_chunk(session, account, "mirrored", stream, line, dt.datetime.now(dt.UTC))
    assert shared.sync(components, account) == 1 and shared.sync(components, account) == 0
    assert shared._state(root)[0] == settled and len(shared._state(root)[1]) == 1
    assert (root / "mirrored" / stream).read_bytes() == line * 4  # each row once
