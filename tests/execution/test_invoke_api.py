"""The Invoke API as clients see it: boto3 against a live server, error mapping, aliases, the CLI."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from lamina.cli.main import cli
from support.functions import Functions
from support.invoking import invoke

APP = """
COUNT = 0
VERSION = {version!r}


def handler(event, context):
    global COUNT
    COUNT += 1
    print("invoked", COUNT)
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    return {{"version": VERSION, "count": COUNT, "fv": context.function_version}}
"""


def code(version: str = "one") -> dict[str, str]:
    return {"app.py": APP.format(version=version)}


def test_boto3_invoke(lambda_client: Any, fns: Functions) -> None:
    fns.create("boto", code())
    resp = lambda_client.invoke(FunctionName="boto", Payload=b'{"a": 1}', LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert json.loads(resp["Payload"].read()) == {"version": "one", "count": 1, "fv": "$LATEST"}
    assert "invoked 1" in base64.b64decode(resp["LogResult"]).decode()
    failed = lambda_client.invoke(FunctionName="boto", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "asked to fail"
    arn = lambda_client.invoke(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:boto:$LATEST")
    got = json.loads(arn["Payload"].read())
    assert got.get("count") == 3, got
    dry = lambda_client.invoke(FunctionName="boto", InvocationType="DryRun")
    assert dry["StatusCode"] == 204


def test_boto3_throttle_and_not_found(lambda_client: Any, fns: Functions) -> None:
    fns.create("throttled", code())
    fns.put_concurrency("throttled", 0)
    with pytest.raises(ClientError) as err:
        lambda_client.invoke(FunctionName="throttled")
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert err.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="does-not-exist")


def test_invocation_errors(client: Any, fns: Functions) -> None:
    fns.create("strict", code())
    too_big = invoke(client, "strict", raw=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert (too_big.status_code, too_big.headers["X-Amzn-ErrorType"]) == (413, "RequestTooLargeException")
    not_json = invoke(client, "strict", raw=b"{nope")
    assert (not_json.status_code, not_json.headers["X-Amzn-ErrorType"]) == (400, "InvalidRequestContentException")
    assert invoke(client, "strict", raw=b"").status_code == 200  # an empty payload is allowed
    assert invoke(client, "strict", qualifier="42").status_code == 404
    bad_context = invoke(client, "strict", headers={"X-Amz-Client-Context": "%%%"})
    assert bad_context.status_code == 400
    conflict = invoke(client, "strict:$LATEST", qualifier="1")
    assert conflict.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
    # Event invocations belong to the asynchronous side, which plugs in as ``enqueue_event``;
    # without it the answer is a clear 400, never a synchronous run.
    client.application.extensions["lamina.invoker"].enqueue_event = None
    event = invoke(client, "strict", headers={"X-Amz-Invocation-Type": "Event"})
    assert (event.status_code, event.headers["X-Amzn-ErrorType"]) == (400, "InvalidParameterValueException")


def test_versions_and_weighted_alias(client: Any, fns: Functions) -> None:
    fns.create("routed", code("one"))
    v1 = fns.publish_version("routed")
    fns.update_code("routed", code("two"))
    v2 = fns.publish_version("routed")
    assert invoke(client, "routed", qualifier=v1).get_json()["version"] == "one"
    two = invoke(client, "routed", qualifier=v2)
    assert (two.get_json()["version"], two.headers["X-Amz-Executed-Version"]) == ("two", v2)
    assert two.get_json()["fv"] == v2
    fns.create_alias("routed", "live", v1, weights={v2: 0.5})
    seen: Counter[str] = Counter()
    for _ in range(40):
        resp = invoke(client, "routed", qualifier="live")
        body = resp.get_json()
        assert {"one": v1, "two": v2}[body["version"]] == resp.headers["X-Amz-Executed-Version"]
        seen[body["version"]] += 1
    assert seen["one"] > 5 and seen["two"] > 5, seen


def test_cli_invoke_and_logs(live_server: Any, fns: Functions) -> None:
    fns.create("clied", code())
    runner = CliRunner()
    out = runner.invoke(cli, ["invoke", "clied", "--payload", '{"a": 1}', "--endpoint", live_server.url])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"version": "one", "count": 1, "fv": "$LATEST"}
    tail = runner.invoke(cli, ["invoke", "clied", "--log-type", "Tail", "--json", "--endpoint", live_server.url])
    doc = json.loads(tail.output)
    assert doc["StatusCode"] == 200 and "invoked 2" in doc["LogResult"]
    failed = runner.invoke(cli, ["invoke", "clied", "--payload", '{"fail": 1}', "--endpoint", live_server.url])
    assert failed.exit_code == 1
    logs = runner.invoke(cli, ["logs", "clied", "--endpoint", live_server.url])
    assert logs.exit_code == 0, logs.output
    assert "invoked 1" in logs.output and "REPORT RequestId" in logs.output
    streams = runner.invoke(cli, ["logs", "clied", "--streams", "--endpoint", live_server.url])
    assert "[$LATEST]" in streams.output
