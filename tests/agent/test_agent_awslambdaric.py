"""A container-image function whose entry point is AWS's own awslambdaric (from PyPI), unchanged.

The agent replaces the entry point and starts the image's ENTRYPOINT + CMD as the runtime, as the
executor does for PackageType Image. A client nobody here wrote proves the Runtime API's details: the
event arrives as a dict only if /next's Content-Type is exactly ``application/json``, its posts carry a
large X-Ray header, and its init-error post demands exactly 202.
"""

from __future__ import annotations

import pytest
from support.containers import ARN, EnvFactory

pytestmark = pytest.mark.docker

ENTRYPOINT = ["python3", "-m", "awslambdaric"]


@pytest.fixture
def ric(envs: EnvFactory, ric_image: str):
    def start(handler: str = "app.handler", **kw):
        return envs.start(ric_image, runtime_cmd=[*ENTRYPOINT, handler], mount_task=False, **kw)

    return start


def test_awslambdaric_success_and_warm_state(ric) -> None:
    env = ric()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    first = env.invoke({"hello": "ric"}, request_id="ric-1", headers={"Lambda-Runtime-Trace-Id": trace}, tail=True)
    assert first.outcome == "success", first.body
    assert first.headers["content-type"] == "application/json"
    body = first.json()
    assert body["event"] == {"hello": "ric"}
    assert body["event_type"] == "dict"  # JSON-decoded: the Content-Type was exactly application/json
    assert body["count"] == 1
    assert body["request_id"] == "ric-1"
    assert body["function_name"] == "agent-test"
    assert body["invoked_function_arn"] == ARN
    assert 0 < body["remaining_ms"] <= 3000
    assert body["trace_id"] == trace
    assert "awslambdaric handler 1" in first.log_tail
    second = env.invoke({"again": True})
    assert second.outcome == "success"
    assert second.json()["count"] == 2


def test_awslambdaric_handler_error(ric) -> None:
    env = ric("app.fail")
    res = env.invoke({}, request_id="ric-err")
    assert res.outcome == "error"
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    body = res.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "awslambdaric says no"
    assert body["requestId"] == "ric-err"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert "errorCause" not in body
    assert env.invoke({}).outcome == "error"  # still alive


def test_awslambdaric_bytes_result(ric) -> None:
    env = ric("app.raw")
    res = env.invoke({})
    assert res.outcome == "success"
    assert res.body == b"\x00raw bytes"
    assert res.headers["content-type"] == "application/unknown"


def test_awslambdaric_init_error(ric) -> None:
    env = ric("nosuchmodule.handler")
    res = env.invoke({}, request_id="ric-init")
    assert res.outcome == "init_error"
    assert res.headers["x-lamina-reset"] == "1"
    body = res.json()
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'nosuchmodule'")
    assert env.wait_exit() == 0
    assert any("Runtime.ImportModuleError" in m for m in env.log_messages())
