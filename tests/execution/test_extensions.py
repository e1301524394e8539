"""The Extensions API (issue 16) with an extension written against AWS's documented API, shipped in a layer
as /opt/extensions/recorder: started before the runtime, registered, INVOKE events with Lambda's payload,
init and invokes that complete only when it has called /event/next, its output in the function's log, its
post-invoke work in the REPORT line, SHUTDOWN on SIGTERM and before the reaper removes the environment,
and the API's errors."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any

import docker
from lamina.config import Settings
from lamina.executor.docker_env import DockerEnv
from lamina.scheduler.pool import Pool
from lamina.scheduler.reaper import Reaper
from support.functions import Functions
from support.invoking import container_ids, invoke

RECORDER = r"""#!/usr/bin/env python3
import json, os, sys, time, urllib.error, urllib.request

BASE = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
MODE = os.environ.get("RECORDER_MODE", "")


def call(path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"{}")

print("recorder errors", json.dumps({
    "no name": call("/register", b'{"events": ["INVOKE"]}')[2].get("errorType"),
    "bad event": call("/register", b'{"events": ["NOPE"]}', {"Lambda-Extension-Name": "recorder"})[2].get("errorType"),
    "no id": call("/event/next")[2].get("errorType"),
}), flush=True)
status, headers, info = call("/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                             {"Lambda-Extension-Name": "recorder", "Lambda-Extension-Accept-Feature": "accountId"})
ident = headers["Lambda-Extension-Identifier"]
print("recorder registered", status, json.dumps(info), flush=True)
if MODE == "init-error":
    call("/init/error", b'{"errorMessage": "no config", "errorType": "Extension.ConfigMissing"}',
         {"Lambda-Extension-Identifier": ident, "Lambda-Extension-Function-Error-Type": "Extension.ConfigMissing"})
    sys.exit(1)
time.sleep(float(os.environ.get("RECORDER_INIT_S", "0")))  # its own init, before its first next
while True:
    status, headers, event = call("/event/next", headers={"Lambda-Extension-Identifier": ident})
    print("recorder got", json.dumps(event), flush=True)
    if event["eventType"] == "SHUTDOWN":
        time.sleep(0.3)
        print("recorder shut down", event["shutdownReason"], flush=True)
        sys.exit(0)
    time.sleep(float(os.environ.get("RECORDER_WORK_S", "0")))  # post-invoke work (flushing telemetry...)
"""

APP = """
import os
def handler(event, context):
    return {"pid": os.getpid(), "rid": context.aws_request_id}
"""


def _function(fns: Functions, name: str, **env: str) -> None:
    layer = fns.publish_layer("recorder", {"extensions/recorder": RECORDER}, executable=["extensions/recorder"])
    fns.create(name, {"app.py": APP}, layers=[layer], env=env, timeout=10, memory=256)


def _tail(resp: Any) -> list[str]:
    return base64.b64decode(resp.headers["X-Amz-Log-Result"]).decode().splitlines()


def _log(client: Any, name: str) -> list[str]:
    """The function's whole log stream (init lines come before START, outside an invoke's tail)."""
    got = client.get(f"/lamina/v1/functions/{name}/logs?limit=1000")
    assert got.status_code == 200, got.get_data(as_text=True)
    return [e["message"] for e in got.get_json()["events"]]


def test_an_extension_registers_gets_invokes_and_is_counted(client: Any, fns: Functions, components: Any) -> None:
    _function(fns, "watched", RECORDER_INIT_S="1.0", RECORDER_WORK_S="0.4")
    first = invoke(client, "watched", {}, tail=True)
    assert first.status_code == 200 and "X-Amz-Function-Error" not in first.headers, first.get_data(as_text=True)
    rid = first.get_json()["rid"]
    lines = _log(client, "watched")
    registered = next(line for line in lines if line.startswith("recorder registered"))
    status, info = registered.split(" ", 3)[2:]
    assert status == "200" and json.loads(info) == {"functionName": "watched", "functionVersion": "$LATEST",
                                                    "handler": "app.handler", "accountId": "000000000000"}
    errors = json.loads(next(line for line in lines if line.startswith("recorder errors")).split(" ", 2)[2])
    assert errors == {"no name": "Extension.MissingExtensionName", "bad event": "Extension.InvalidEventType",
                      "no id": "Extension.MissingExtensionIdentifier"}
    got = json.loads(next(line for line in lines if line.startswith("recorder got")).split(" ", 2)[2])
    assert got["eventType"] == "INVOKE" and got["requestId"] == rid
    assert got["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:watched"
    assert got["deadlineMs"] > time.time() * 1000 and got["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert got["tracing"]["value"].startswith("Root=1-")
    report = next(line for line in lines if line.startswith("REPORT"))
    init_ms = float(re.search(r"Init Duration: ([\d.]+) ms", report).group(1))
    duration_ms = float(re.search(r"\tDuration: ([\d.]+) ms", report).group(1))
    assert init_ms >= 1000, report  # init waited for the extension's first next
    assert duration_ms >= 400, report  # the invoke ended when the extension called next again

    second = invoke(client, "watched", {}, tail=True)
    assert second.get_json()["pid"] == first.get_json()["pid"]  # the same environment, warm
    assert any(f'"requestId": "{second.get_json()["rid"]}"' in line for line in _tail(second))


def test_shutdown_reaches_the_extension_on_sigterm_and_before_the_reaper_removes_it(
    client: Any, fns: Functions, components: Any, docker_client: docker.DockerClient, settings: Settings,
    reaper_for: Callable[..., Reaper],
) -> None:
    _function(fns, "stopped")
    assert invoke(client, "stopped", {}).status_code == 200
    [cid] = container_ids(docker_client, settings)
    pool = Pool(components.redis)
    [env] = [e for e in pool.snapshot().envs if e.container_id == cid]
    assert env.extensions
    DockerEnv(docker_client).stop(cid, 3)
    # What no answer carried any more went to the container's own log, as the agent's JSON lines.
    logs = [json.loads(line)["msg"] for line in docker_client.api.logs(cid).decode().splitlines()
            if line.startswith("{")]
    [got] = [json.loads(m.split(" ", 2)[2]) for m in logs if m.startswith("recorder got")]
    assert got["eventType"] == "SHUTDOWN" and got["shutdownReason"] == "spindown"
    assert got["deadlineMs"] > time.time() * 1000 - 5000
    assert "recorder shut down spindown" in logs

    _function(fns, "reaped")
    assert invoke(client, "reaped", {}).status_code == 200
    started = time.monotonic()
    reaper_for(idle_timeout_s=0.0).tick()
    assert time.monotonic() - started >= 0.3  # it waited for the extension's SHUTDOWN work
    assert not [e for e in pool.snapshot().envs if e.function_name == "reaped"]


def test_an_extension_init_error_fails_the_init(client: Any, fns: Functions) -> None:
    _function(fns, "broken-ext", RECORDER_MODE="init-error")
    resp = invoke(client, "broken-ext", {})
    assert resp.headers.get("X-Amz-Function-Error") == "Unhandled", resp.get_data(as_text=True)
    assert resp.get_json()["errorType"] == "Extension.ConfigMissing"


WRAPPER = """#!/bin/sh
echo "wrapper starts $1"
export WRAPPED_BY=wrapper.sh
exec "$@"
"""
WRAPPED_APP = """
import os
def handler(event, context):
    return os.environ.get("WRAPPED_BY")
"""


def test_an_exec_wrapper_starts_the_runtime(client: Any, fns: Functions) -> None:
    fns.create("wrapped", {"app.py": WRAPPED_APP, "wrapper.sh": WRAPPER}, executable=["wrapper.sh"],
               env={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"})
    resp = invoke(client, "wrapped", {})
    assert resp.status_code == 200 and resp.get_json() == "wrapper.sh", resp.get_data(as_text=True)
    assert any(line.startswith("wrapper starts ") for line in _log(client, "wrapped"))


TELEMETRY = r"""#!/usr/bin/env python3
import json, os, threading, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

BASE = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]


class Listener(BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open("/tmp/telemetry.jsonl", "a") as out:
            for event in batch:
                out.write(json.dumps(event) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("sandbox.localdomain", 4243), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


_, headers, _ = call("POST", "/2020-01-01/extension/register", b'{"events": ["INVOKE"]}',
                     {"Lambda-Extension-Name": "telemetry"})
ident = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
bad = call("PUT", "/2022-07-01/telemetry", json.dumps({"schemaVersion": "2022-07-01", "types": ["platform"],
           "destination": {"protocol": "HTTP", "URI": "http://example.com:80/"}}).encode(), ident)
status, _, body = call("PUT", "/2022-07-01/telemetry", json.dumps({
    "schemaVersion": "2022-12-13", "types": ["platform", "function", "extension"],
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/events"}}).encode(), ident)
print("telemetry subscribed", status, body.decode(), bad[0], json.loads(bad[2])["errorType"], flush=True)
while True:
    call("GET", "/2020-01-01/extension/event/next", headers=ident)
"""

TELEMETRY_APP = """
import json
def handler(event, context):
    print("hello from the handler")
    try:
        with open("/tmp/telemetry.jsonl") as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []
"""


def test_the_telemetry_api_delivers_platform_function_and_extension_events(client: Any, fns: Functions) -> None:
    layer = fns.publish_layer("telemetry", {"extensions/telemetry": TELEMETRY}, executable=["extensions/telemetry"])
    fns.create("observed", {"app.py": TELEMETRY_APP}, layers=[layer], timeout=10, memory=256)
    first = invoke(client, "observed", {})
    assert first.status_code == 200, first.get_data(as_text=True)
    time.sleep(0.5)  # the 25 ms buffer is flushed while the environment is idle
    events = invoke(client, "observed", {}).get_json()
    types = [e["type"] for e in events]
    for kind in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.start",
                 "platform.runtimeDone", "platform.report", "function", "extension"):
        assert kind in types, (kind, types)
    assert types.index("platform.initStart") < types.index("platform.initReport") < types.index("platform.start")
    assert {"name": "telemetry", "state": "Ready", "events": ["INVOKE"]} in [
        e["record"] for e in events if e["type"] == "platform.extension"]
    assert {"name": "telemetry", "state": "Subscribed", "types": ["extension", "function", "platform"]} in [
        e["record"] for e in events if e["type"] == "platform.telemetrySubscription"]
    report = next(e for e in events if e["type"] == "platform.report")["record"]
    assert report["status"] == "success" and report["metrics"]["memorySizeMB"] == 256
    assert {"durationMs", "billedDurationMs", "maxMemoryUsedMB", "initDurationMs"} <= set(report["metrics"])
    assert any(e["type"] == "function" and e["record"] == "hello from the handler" for e in events)
    subscribed = next(e["record"] for e in events if e["type"] == "extension"
                      and e["record"].startswith("telemetry subscribed"))
    assert subscribed == "telemetry subscribed 200 OK 400 ValidationError"
    assert all(e["time"].endswith("Z") for e in events)
