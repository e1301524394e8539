"""Custom runtimes (provided*): the function's own bootstrap talks to the Runtime API.

A probing bootstrap also checks the Runtime API's status codes and limits as AWS's clients rely on them.
"""

from __future__ import annotations

import json

import pytest
from support.containers import ARN, EnvFactory

pytestmark = pytest.mark.docker

ECHO_BOOTSTRAP = r"""#!/usr/bin/python3
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
conn = http.client.HTTPConnection(api)
print("echo bootstrap starting", flush=True)
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    resp = conn.getresponse()
    event = resp.read()
    headers = dict(resp.getheaders())
    rid = headers["Lambda-Runtime-Aws-Request-Id"]
    out = json.dumps({"event": event.decode(), "headers": headers, "handler": os.environ.get("_HANDLER")})
    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", out,
                 {"Content-Type": "application/json"})
    conn.getresponse().read()
"""

# Calls the Runtime API the wrong way on purpose and reports what it answered.
PROBE_BOOTSTRAP = r"""#!/usr/bin/python3
import http.client, json, os, socket
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.split(":")
conn = http.client.HTTPConnection(api)
codes = {}

def call(name, method, path, body=None, headers=None):
    conn.request(method, path, body, headers or {})
    resp = conn.getresponse()
    data = resp.read()
    codes[name] = [resp.status, json.loads(data) if data else None]
    return resp, data

call("response_during_init", "POST", "/2018-06-01/runtime/invocation/nope/response", b"{}")
resp, _ = call("next_1", "GET", "/2018-06-01/runtime/invocation/next")
rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
codes["next_1"][1] = None
call("wrong_id", "POST", "/2018-06-01/runtime/invocation/not-the-id/response", b"{}")
call("next_while_busy", "GET", "/2018-06-01/runtime/invocation/next")
call("init_error_after_init", "POST", "/2018-06-01/runtime/init/error", b"{}")
call("bad_mode", "POST", f"/2018-06-01/runtime/invocation/{rid}/response", b"{}",
     {"Lambda-Runtime-Function-Response-Mode": "sideways"})
call("unknown_path", "GET", "/2018-06-01/runtime/whatever")
first = json.dumps(codes).encode()
codes.clear()
# A 1 MiB X-Ray cause header line, as AWS's Python client sends on every post.
call("response", "POST", f"/2018-06-01/runtime/invocation/{rid}/response", first,
     {"Content-Type": "application/json", "Lambda-Runtime-Function-XRay-Error-Cause": "x" * (1024 * 1024 - 100)})
call("response_again", "POST", f"/2018-06-01/runtime/invocation/{rid}/response", b"{}")
resp, _ = call("next_2", "GET", "/2018-06-01/runtime/invocation/next")
rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
codes["next_2"][1] = None
# Answer the second invocation with a chunked body and Expect: 100-continue, by hand.
body = json.dumps(codes).encode()
s = socket.create_connection((host, int(port)))
s.sendall((f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: {api}\r\n"
           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n").encode())
assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
half = len(body) // 2
for part in (body[:half], body[half:]):
    s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
s.sendall(b"0\r\n\r\n")
assert s.recv(1000).startswith(b"HTTP/1.1 202")
resp, _ = call("next_3", "GET", "/2018-06-01/runtime/invocation/next")
"""

BASH_BOOTSTRAP = r"""#!/bin/bash
# A custom runtime in bash alone: /dev/tcp, one connection per call, Connection: close.
set -euo pipefail
API="$AWS_LAMBDA_RUNTIME_API"
HOST="${API%:*}"
PORT="${API#*:}"
echo "bash bootstrap up"
while true; do
  exec 3<>"/dev/tcp/$HOST/$PORT"
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$API" >&3
  ID=""; LEN=0; CTYPE=""
  while IFS= read -r line <&3; do
    line="${line%$'\r'}"
    [ -z "$line" ] && break
    case "${line,,}" in
      lambda-runtime-aws-request-id:*) ID="${line#*: }" ;;
      content-length:*) LEN="${line#*: }" ;;
      content-type:*) CTYPE="${line#*: }" ;;
    esac
  done
  BODY="$(head -c "$LEN" <&3)"
  exec 3<&-
  echo "bash got $ID"
  RESP="{\"shell\": \"bash\", \"content_type\": \"$CTYPE\", \"event\": $BODY}"
  exec 3<>"/dev/tcp/$HOST/$PORT"
  HEAD='POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n'
  HEAD+='Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s'
  printf "$HEAD" "$ID" "$API" "${#RESP}" "$RESP" >&3
  cat <&3 >/dev/null
  exec 3<&-
done
"""


def invalid_state(current: str, target: str) -> list[object]:
    """What the RIE answers (status, body) when the runtime's state does not allow a call."""
    message = f"State transition from {current} to {target} failed for runtime. Error: State transition is not allowed"
    return [403, {"errorType": "InvalidStateTransition", "errorMessage": message}]


@pytest.fixture
def provided(envs: EnvFactory, provided_image: str):
    def start(files: dict[str, str], **kw):
        mode = {name: 0o755 for name in files if name.endswith("bootstrap")} | kw.pop("mode", {})
        return envs.start(provided_image, files=files, handler="function.handler", mode=mode, **kw)

    return start


def test_python_bootstrap_sees_aws_headers(provided) -> None:
    env = provided({"bootstrap": ECHO_BOOTSTRAP})
    res = env.invoke({"k": "v"}, request_id="prov-1", headers={"Lambda-Runtime-Trace-Id": ""}, tail=True)
    assert res.outcome == "success"
    body = res.json()
    assert json.loads(body["event"]) == {"k": "v"}
    headers = body["headers"]
    assert headers["Content-Type"] == "application/json"  # exactly: AWS's clients compare the bare value
    assert headers["Lambda-Runtime-Aws-Request-Id"] == "prov-1"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > 1_600_000_000_000
    assert "Lambda-Runtime-Trace-Id" not in headers  # empty values are not sent on
    assert "Lambda-Runtime-Client-Context" not in headers
    assert body["handler"] == "function.handler"
    assert "echo bootstrap starting" in env.log_messages()


def test_runtime_api_status_codes_and_limits(provided) -> None:
    env = provided({"bootstrap": PROBE_BOOTSTRAP})
    first = env.invoke({}, request_id="probe-1")
    assert first.outcome == "success", first.body
    codes = first.json()
    assert codes["response_during_init"] == invalid_state("Started", "InvocationResponse")
    assert codes["next_1"] == [200, None]
    assert codes["wrong_id"] == [400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}]
    assert codes["next_while_busy"] == invalid_state("Running", "Ready")
    assert codes["init_error_after_init"] == invalid_state("Running", "InitError")
    assert codes["bad_mode"][0] == 400 and codes["bad_mode"][1]["errorType"] == "InvalidFunctionResponseMode"
    assert codes["unknown_path"][0] == 404
    second = env.invoke({}, request_id="probe-2")
    assert second.outcome == "success", second.body
    assert second.json() == {
        "response": [202, {"status": "OK"}],
        "response_again": invalid_state("RuntimeResponseSentState", "InvocationResponse"),
        "next_2": [200, None],
    }


def test_bash_bootstrap(provided) -> None:
    env = provided({"bootstrap": BASH_BOOTSTRAP})
    for i in range(3):
        res = env.invoke({"i": i}, request_id=f"bash-{i}")
        assert res.outcome == "success", res.body
        assert res.json() == {"shell": "bash", "content_type": "application/json", "event": {"i": i}}
    messages = env.log_messages()
    assert "bash bootstrap up" in messages and "bash got bash-2" in messages


def test_bootstrap_from_opt(provided) -> None:
    env = provided({}, opt_files={"bootstrap": ECHO_BOOTSTRAP}, mode={"bootstrap": 0o755})
    assert env.invoke({"from": "opt"}).outcome == "success"


def test_missing_bootstrap_is_invalid_entrypoint(provided) -> None:
    env = provided({"function.sh": "echo nothing\n"})
    res = env.invoke({}, request_id="no-boot")
    assert res.outcome == "init_error"
    assert res.headers["x-lamina-reset"] == "1"
    body = res.json()
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert body["errorMessage"].startswith("RequestId: no-boot Error: Couldn't find valid bootstrap(s)")
    assert env.wait_exit() == 0


def test_bootstrap_exiting_during_init(provided) -> None:
    env = provided({"bootstrap": "#!/bin/sh\necho failing init\nexit 2\n"})
    res = env.invoke({}, request_id="init-exit")
    assert res.outcome == "init_error"
    assert res.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: init-exit Error: Runtime exited with error: exit status 2",
    }
    assert "failing init" in env.log_messages()


def test_init_timeout(provided) -> None:
    env = provided({"bootstrap": "#!/bin/sh\necho stuck in init\nexec sleep 60\n"}, init_timeout_s=1)
    res = env.invoke({}, request_id="init-slow")
    assert res.outcome == "init_error"
    assert res.headers["x-lamina-reset"] == "1"
    body = res.json()
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("init-slow Task timed out after 1.00 seconds")
    assert env.wait_exit() == 0


def test_init_error_posted_by_custom_runtime(provided) -> None:
    bootstrap = r"""#!/usr/bin/python3
import http.client, json, os
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
conn.request("POST", "/2018-06-01/runtime/init/error",
             json.dumps({"errorMessage": "no config", "errorCause": {"secret": "x-ray"}}),
             {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigMissing"})
resp = conn.getresponse()
print("init error answered", resp.status, resp.read().decode(), flush=True)
raise SystemExit(1)
"""
    env = provided({"bootstrap": bootstrap})
    res = env.invoke({})
    assert res.outcome == "init_error"
    assert res.json() == {"errorMessage": "no config", "errorType": "Runtime.ConfigMissing"}  # errorCause stripped
    assert 'init error answered 202 {"status":"OK"}' in env.log_messages()
