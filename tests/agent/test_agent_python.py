"""The agent with lamina's python runtime: outcomes, headers, logs and limits on real containers."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from support.containers import ARN, EnvFactory

pytestmark = pytest.mark.docker

APP = """
import os, sys, time, json, logging

COUNT = 0
logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    global COUNT
    COUNT += 1
    print("invocation", COUNT)
    return {
        "event": event,
        "count": COUNT,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_context_custom": context.client_context.custom if context.client_context else None,
        "identity_id": context.identity.cognito_identity_id,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "lamina_vars": sorted(k for k in os.environ if k.startswith("LAMINA_")),
        "sys_path": sys.path[:3],
        "cwd": os.getcwd(),
        "uid": os.getuid(),
    }


def fail(event, context):
    raise ValueError("something broke: " + str(event.get("why")))


def sleepy(event, context):
    print("going to sleep")
    time.sleep(event.get("seconds", 10))
    return "woke"


def crash(event, context):
    print("about to exit")
    sys.stdout.flush()
    os._exit(1)


def exit_after(event, context):
    import threading
    threading.Timer(event.get("after", 0.2), os._exit, (2,)).start()
    return "bye soon"


def hog(event, context):
    blocks = []
    for _ in range(300):
        blocks.append(bytearray(1024 * 1024))
    return len(blocks)


def big(event, context):
    return "x" * (7 * 1024 * 1024)


def raw(event, context):
    return b"\\x00\\x01raw"


def logs(event, context):
    print("line one")
    print("line two")
    logger.info("from logging")
    sys.stderr.write("to stderr\\n")
    return "ok"


def fs(event, context):
    out = {}
    try:
        open("/should-not-exist", "w").write("x")
        out["root"] = "writable"
    except OSError as exc:
        out["root"] = type(exc).__name__ + ":" + str(exc.errno)
    try:
        open("/var/task/new-file", "w").write("x")
        out["task"] = "writable"
    except OSError as exc:
        out["task"] = type(exc).__name__
    with open("/tmp/scratch", "w") as f:
        f.write("hello tmp")
    out["tmp"] = open("/tmp/scratch").read()
    return out


def zombies(event, context):
    import subprocess
    if event.get("spawn"):
        # the shell exits at once, leaving a grandchild orphaned onto PID 1 (the agent) that exits later
        subprocess.run(["/bin/sh", "-c", "(sleep 0.2; exit 0) &"], check=True)
        return "spawned"
    states = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
    return {"zombies": states.count("Z"), "processes": len(states)}
"""

PKG_MOD = """
def handler(event, context):
    return {"from": __name__}
"""


@pytest.fixture
def app(envs: EnvFactory, python_image: str):
    def start(handler: str = "app.handler", **kw):
        files = {"app.py": APP, "pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": PKG_MOD}
        files.update(kw.pop("files", {}))
        return envs.start(python_image, files=files, handler=handler, runtime_cmd=["/var/runtime/bootstrap"], **kw)

    return start


def test_success_warm_state_and_context(app) -> None:
    env = app(memory_mb=256)
    first = env.invoke(
        {"hello": "world"},
        request_id="req-1",
        headers={
            "Lambda-Runtime-Client-Context": json.dumps({"custom": {"k": "v"}, "env": {}, "client": {}}),
            "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "p"}),
            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        },
    )
    assert first.status == 200
    assert first.outcome == "success"
    assert "x-lamina-function-error" not in first.headers
    assert "x-lamina-reset" not in first.headers
    assert first.headers["content-type"] == "application/json"
    assert float(first.headers["x-lamina-init-duration-ms"]) > 0
    assert float(first.headers["x-lamina-duration-ms"]) > 0
    assert int(first.headers["x-lamina-max-memory-mb"]) > 0
    body = first.json()
    assert body["event"] == {"hello": "world"}
    assert body["count"] == 1
    assert body["aws_request_id"] == "req-1"
    assert body["function_name"] == "agent-test"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == ARN
    assert body["memory_limit_in_mb"] == "256"
    assert 0 < body["remaining_ms"] <= 3000
    assert body["log_group_name"] == "/aws/lambda/agent-test"
    assert body["log_stream_name"].startswith("2024/01/01/[$LATEST]")
    assert body["client_context_custom"] == {"k": "v"}
    assert body["identity_id"] == "id-1"
    assert body["trace_id"].startswith("Root=1-5759e988")
    assert body["runtime_api"] == "127.0.0.1:9001"
    assert body["lamina_vars"] == []
    assert body["sys_path"] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python"]
    assert body["cwd"] == "/var/task"
    assert body["uid"] == 993

    second = env.invoke({"n": 2})
    assert second.outcome == "success"
    assert second.json()["count"] == 2  # module state survived: the same warm environment
    assert "x-lamina-init-duration-ms" not in second.headers
    assert second.json()["trace_id"] is None  # empty headers are not sent on, and the runtime clears it


def test_handler_in_package(app) -> None:
    env = app("pkg.sub.mod.handler")
    assert env.invoke({}).json() == {"from": "pkg.sub.mod"}


def test_bytes_result_goes_out_raw(app) -> None:
    env = app("app.raw")
    res = env.invoke({})
    assert res.outcome == "success"
    assert res.body == b"\x00\x01raw"
    assert res.headers["content-type"] == "application/unknown"


def test_handler_error_shape(app) -> None:
    env = app("app.fail")
    res = env.invoke({"why": "testing"}, request_id="req-err")
    assert res.status == 200
    assert res.outcome == "error"
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    assert "x-lamina-reset" not in res.headers
    assert res.headers["content-type"] == "application/json"
    body = res.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "something broke: testing"
    assert body["requestId"] == "req-err"
    assert isinstance(body["stackTrace"], list) and all(isinstance(s, str) for s in body["stackTrace"])
    assert any("/var/task/app.py" in s and "in fail" in s for s in body["stackTrace"])
    assert not any("lamina_runtime" in s for s in body["stackTrace"])
    # the environment lives on after a handler error
    again = env.invoke({"why": "again"})
    assert again.outcome == "error" and again.json()["errorMessage"] == "something broke: again"


@pytest.mark.parametrize(
    ("handler", "files", "error_type", "message"),
    [
        (
            "missing.handler",
            {},
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
        ("app.nope", {}, "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"),
        ("nodot", {}, "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
        (
            "broken.handler",
            {"broken.py": "def handler(:\n"},
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'broken'",
        ),
        ("boom.handler", {"boom.py": "raise RuntimeError('at import')\n"}, "RuntimeError", "at import"),
    ],
)
def test_init_error(app, handler: str, files: dict[str, str], error_type: str, message: str) -> None:
    env = app(handler, files=files)
    res = env.invoke({}, request_id="req-init")
    assert res.status == 200
    assert res.outcome == "init_error"
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    assert res.headers["x-lamina-reset"] == "1"
    assert "x-lamina-init-duration-ms" in res.headers
    body = res.json()
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)
    assert isinstance(body["stackTrace"], list)
    assert env.wait_exit() == 0  # the agent ends the environment after answering
    messages = env.log_messages()
    assert any(m.startswith(f"[ERROR] {error_type}") for m in messages)
    assert any(m.startswith("REPORT RequestId: req-init\tInit Duration: ") for m in messages)


def test_timeout(app) -> None:
    env = app("app.sleepy", timeout_s=1.0)
    started = time.monotonic()
    res = env.invoke({"seconds": 30}, request_id="req-slow", timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3.0
    assert res.outcome == "timeout"
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    assert res.headers["x-lamina-reset"] == "1"
    body = res.json()
    assert body["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z req-slow Task timed out after 1\.00 seconds", body["errorMessage"]
    )
    assert env.wait_exit() == 0
    messages = env.log_messages()
    assert "going to sleep" in messages
    assert body["errorMessage"] in messages
    assert messages[-2] == "END RequestId: req-slow"
    assert messages[-1].startswith("REPORT RequestId: req-slow")


def test_runtime_exit_mid_invoke(app) -> None:
    env = app("app.crash")
    res = env.invoke({}, request_id="req-crash")
    assert res.outcome == "exit"
    assert res.headers["x-lamina-reset"] == "1"
    assert res.headers["x-lamina-dispatched"] == "1"  # the runtime had the event: never run it again
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    assert res.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: req-crash Error: Runtime exited with error: exit status 1",
    }
    assert env.wait_exit() == 0
    assert "about to exit" in env.log_messages()


def test_runtime_exit_between_invocations_says_the_event_was_not_dispatched(app) -> None:
    env = app("app.exit_after")
    first = env.invoke({"after": 0.2}, request_id="req-1")
    assert (first.outcome, first.headers["x-lamina-dispatched"]) == ("success", "1")
    time.sleep(1.0)  # the runtime exits while idle; the agent stays up
    res = env.invoke({}, request_id="req-2")
    assert res.outcome == "exit"
    assert res.headers["x-lamina-reset"] == "1"
    assert res.headers["x-lamina-dispatched"] == "0"
    assert res.json()["errorMessage"] == "RequestId: req-2 Error: Runtime exited with error: exit status 2"
    assert env.wait_exit() == 0


def test_oom_kill_is_an_exit(app) -> None:
    env = app("app.hog", memory_mb=128)
    res = env.invoke({}, request_id="req-oom", timeout_s=20)
    assert res.outcome == "exit"
    assert res.headers["x-lamina-reset"] == "1"
    assert res.json()["errorMessage"] == "RequestId: req-oom Error: Runtime exited with error: signal: killed"
    assert int(res.headers["x-lamina-max-memory-mb"]) >= 100
    assert env.wait_exit() == 0


def test_response_too_large(app) -> None:
    env = app("app.big")
    res = env.invoke({})
    assert res.outcome == "error"
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    assert "x-lamina-reset" not in res.headers
    body = res.json()
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert re.fullmatch(
        r"Response payload size \(\d+ bytes\) exceeded maximum allowed payload size \(6291556 bytes\)\.",
        body["errorMessage"],
    )
    # the runtime got 413 and carries on: the environment still answers
    assert env.invoke({}).outcome == "error"


def test_event_too_large_is_refused(app) -> None:
    env = app()
    res = env.invoke(raw=b"x" * 6_291_557)
    assert res.status == 413
    assert env.invoke({"small": True}).outcome == "success"


def test_log_frames_and_tail(app) -> None:
    env = app("app.logs")
    res = env.invoke({}, request_id="req-logs", tail=True)
    assert res.outcome == "success"
    tail = res.log_tail.splitlines()
    assert tail[0] == "START RequestId: req-logs Version: $LATEST"
    assert tail[1:3] == ["line one", "line two"]
    assert re.fullmatch(r"\[INFO\]\t\S+Z\treq-logs\tfrom logging", tail[3])
    assert tail[4] == "to stderr"
    assert tail[5] == "END RequestId: req-logs"
    assert re.fullmatch(
        r"REPORT RequestId: req-logs\tInit Duration: \d+\.\d\d ms\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms"
        r"\tMemory Size: 256 MB\tMax Memory Used: \d+ MB",
        tail[6],
    )
    records = env.log_records()
    assert [r["msg"] for r in records][-7:] == tail
    assert all(isinstance(r["ts"], int) and r["ts"] > 1_600_000_000_000 for r in records)
    second = env.invoke({}, request_id="req-logs-2", tail=True)
    assert second.log_tail.splitlines()[0] == "START RequestId: req-logs-2 Version: $LATEST"
    assert "Init Duration" not in second.log_tail
    assert "x-lamina-log-result" not in env.invoke({}).headers


def test_read_only_root_and_writable_tmp(app) -> None:
    env = app("app.fs")
    body = env.invoke({}).json()
    assert body["root"] in ("OSError:30", "PermissionError:13")  # EROFS (or EACCES as non-root)
    assert body["task"] in ("OSError", "PermissionError")
    assert body["tmp"] == "hello tmp"


def test_one_invocation_at_a_time(app, envs: EnvFactory) -> None:
    env = app("app.sleepy")
    results = {}

    def slow() -> None:
        results["slow"] = env.invoke({"seconds": 1})

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    from support.containers import Env

    other = Env(env.container, env.ip, 3.0)  # a second connection
    try:
        busy = other.invoke({"seconds": 0})
    finally:
        other.close()
    t.join()
    assert busy.status == 409
    assert results["slow"].outcome == "success" and results["slow"].json() == "woke"


def test_orphans_are_reaped(app) -> None:
    env = app("app.zombies")
    assert env.invoke({"spawn": True}).json() == "spawned"
    time.sleep(0.6)
    assert env.invoke({}).json()["zombies"] == 0


def test_missing_request_headers_still_work(app) -> None:
    env = app()
    conn = env.connection(10)
    conn.request("POST", "/invoke", body=b'{"bare": true}')
    resp = conn.getresponse()
    data = resp.read()
    body = json.loads(data[: len(data) - int(resp.getheader("X-Lamina-Log-Length") or 0)])  # logs ride after it
    assert resp.status == 200 and resp.getheader("X-Lamina-Outcome") == "success"
    assert body["event"] == {"bare": True}
    assert re.fullmatch(r"[0-9a-f-]{36}", body["aws_request_id"])
    assert 0 < body["remaining_ms"] <= 3000  # the deadline header is always sent


def test_sigterm_is_forwarded(app) -> None:
    handler = (
        "import signal, sys\n"
        "def _term(signum, frame):\n"
        "    print('runtime got SIGTERM')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, _term)\n"
        "def handler(event, context):\n"
        "    return 'ok'\n"
    )
    env = app("term.handler", files={"term.py": handler})
    assert env.invoke({}).outcome == "success"
    started = time.monotonic()
    env.container.stop(timeout=10)
    assert time.monotonic() - started < 5
    assert env.wait_exit() == 0
    # No answer carries what it printed on its way out: the agent leaves it in the container's own log.
    assert "runtime got SIGTERM" in env.container.logs(stdout=False, stderr=True).decode()
