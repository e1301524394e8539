"""The CloudWatch-Logs-shaped API over the streams real invocations wrote."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.functions import Functions

APP = """
def handler(event, context):
    print("handled", event.get("n"), "ERROR" if event.get("n") == 2 else "fine")
    return event.get("n")
"""


def logs_call(client: Any, op: str, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = client.post("/", data=json.dumps(body), headers={
        "X-Amz-Target": f"Logs_20140328.{op}", "Content-Type": "application/x-amz-json-1.1"})
    return resp.status_code, json.loads(resp.get_data())


def test_filter_get_describe_and_retention(client: Any, fns: Functions, settings: Any) -> None:
    fns.create("logged", {"app.py": APP}, handler="app.handler")
    t0 = int(time.time() * 1000) - 1
    for n in range(4):
        assert client.post("/2015-03-31/functions/logged/invocations", data=json.dumps({"n": n})).status_code == 200
    group = "/aws/lambda/logged"

    status, streams = logs_call(client, "DescribeLogStreams", logGroupName=group, orderBy="LastEventTime",
                                descending=True)
    assert status == 200 and len(streams["logStreams"]) == 1
    stream = streams["logStreams"][0]
    assert stream["logStreamName"].endswith(stream["logStreamName"][-32:]) and "[$LATEST]" in stream["logStreamName"]
    assert stream["lastEventTimestamp"] >= t0 and stream["storedBytes"] > 0

    status, found = logs_call(client, "FilterLogEvents", logGroupName=group, startTime=t0, filterPattern="handled")
    assert status == 200
    assert [e["message"].split()[1] for e in found["events"]] == ["0", "1", "2", "3"]
    assert "nextToken" not in found
    status, errs = logs_call(client, "FilterLogEvents", logGroupName=group, filterPattern="?ERROR ?Boom")
    assert [e["message"].strip() for e in errs["events"]] == ["handled 2 ERROR"]
    _, excluded = logs_call(client, "FilterLogEvents", logGroupName=group, filterPattern="handled -fine")
    assert len(excluded["events"]) == 1
    _, reports = logs_call(client, "FilterLogEvents", logGroupName=group, filterPattern='"REPORT RequestId"')
    assert len(reports["events"]) == 4 and "Billed Duration" in reports["events"][0]["message"]

    # Paging: two at a time, no duplicates, no gaps.
    seen: list[str] = []
    token = None
    while True:
        body: dict[str, Any] = {"logGroupName": group, "filterPattern": "handled", "limit": 2}
        if token:
            body["nextToken"] = token
        _, page = logs_call(client, "FilterLogEvents", **body)
        seen += [e["message"].split()[1] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == ["0", "1", "2", "3"]

    _, window = logs_call(client, "FilterLogEvents", logGroupName=group, startTime=0, endTime=t0)
    assert window["events"] == []

    _, got = logs_call(client, "GetLogEvents", logGroupName=group, logStreamName=stream["logStreamName"],
                       startFromHead=True, limit=3)
    assert len(got["events"]) == 3 and got["nextForwardToken"].startswith("f/")
    _, more = logs_call(client, "GetLogEvents", logGroupName=group, logStreamName=stream["logStreamName"],
                        nextToken=got["nextForwardToken"])
    assert more["events"] and more["events"][0]["timestamp"] >= got["events"][-1]["timestamp"]

    status, missing = logs_call(client, "FilterLogEvents", logGroupName="/aws/lambda/nope")
    assert status == 404 and missing["__type"] == "ResourceNotFoundException"
    status, bad = logs_call(client, "PutRetentionPolicy", logGroupName=group, retentionInDays=2)
    assert status == 400 and bad["__type"] == "InvalidParameterException"
    assert logs_call(client, "PutRetentionPolicy", logGroupName=group, retentionInDays=1)[0] == 200
    _, groups = logs_call(client, "DescribeLogGroups", logGroupNamePrefix="/aws/lambda/log")
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups["logGroups"]] == [(group, 1)]

    # A stream last written two days ago goes with a one-day retention.
    path = settings.data_dir / "logs" / settings.account_id / "logged" / stream["logStreamName"].replace("/", "-")
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))
    _, after = logs_call(client, "DescribeLogStreams", logGroupName=group)
    assert after["logStreams"] == []


def test_logs_prune_command(settings: Any, monkeypatch: Any) -> None:
    from click.testing import CliRunner
    from lamina.cli.main import cli

    directory = settings.data_dir / "logs" / settings.account_id / "pruned"
    directory.mkdir(parents=True, exist_ok=True)
    old = directory / ("2020-01-01-[$LATEST]" + "a" * 32)
    new = directory / ("2020-01-02-[$LATEST]" + "b" * 32)
    for path in (old, new):
        path.write_text('{"ts": 1, "msg": "x"}\n')
    os.utime(old, (time.time() - 10 * 86400,) * 2)
    (directory / ".retention").write_text("7")
    monkeypatch.setenv("LAMINA_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(cli, ["logs-prune"])
    assert result.exit_code == 0, result.output
    assert "removed 1 log stream" in result.output
    assert not old.exists() and new.exists()


STRUCTURED = """
import json


def handler(event, context):
    n = event["n"]
    print(json.dumps({"level": "ERROR" if n % 2 else "INFO", "latency": n * 100, "n": n}))
    print(f"10.0.0.{n} GET /items/{n} {200 if n < 3 else 500} {n * 1000}")
    return n
"""


def test_json_and_space_delimited_filter_patterns(client: Any, fns: Functions) -> None:
    fns.create("structured", {"app.py": STRUCTURED}, handler="app.handler")
    for n in range(5):
        assert client.post("/2015-03-31/functions/structured/invocations", data=json.dumps({"n": n})).status_code == 200
    group = "/aws/lambda/structured"

    def ns(pattern: str) -> list[int]:
        status, found = logs_call(client, "FilterLogEvents", logGroupName=group, filterPattern=pattern)
        assert status == 200, found
        return [json.loads(e["message"])["n"] if e["message"].startswith("{") else int(e["message"].split()[0][7:])
                for e in found["events"]]

    assert ns('{ $.level = "ERROR" }') == [1, 3]
    assert ns('{ $.level = "INFO" && $.latency >= 200 }') == [2, 4]
    assert ns("{ $.missing NOT EXISTS && $.n < 2 }") == [0, 1]
    assert ns("[ip, method = GET, path, status = 5*, bytes > 3500]") == [4]
    assert ns("[ip = 10.0.0.2, ...]") == [2]
    status, err = logs_call(client, "FilterLogEvents", logGroupName=group, filterPattern="{ $.level = }")
    assert status == 400 and "Invalid filter pattern" in err["message"]


def test_boto3_logs_client_and_the_aws_cli_read_the_streams(client: Any, fns: Functions, aws_client: Any,
                                                           live_server: Any, credentials: Any) -> None:
    fns.create("tailed", {"app.py": APP}, handler="app.handler")
    for n in range(3):
        assert client.post("/2015-03-31/functions/tailed/invocations", data=json.dumps({"n": n})).status_code == 200
    logs = aws_client("logs")
    group = "/aws/lambda/tailed"
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/tail")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern="handled",
                                                             PaginationConfig={"PageSize": 1})
    assert [e["message"].split()[1] for p in pages for e in p["events"]] == ["0", "1", "2"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
    assert any("REPORT RequestId" in e["message"] for e in events["events"])
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName="/aws/lambda/none-such")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The aws CLI, with its own signing for service logs.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials.access_key_id,
           "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key, "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(["aws", "logs", "filter-log-events", "--endpoint-url", live_server.url,
                          "--log-group-name", group, "--filter-pattern", "handled"],
                         capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    assert [e["message"].split()[1] for e in json.loads(out)["events"]] == ["0", "1", "2"]
