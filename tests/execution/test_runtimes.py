"""Every kind of function through the platform: nodejs, a custom runtime (provided), an awslambdaric image."""

from __future__ import annotations

import base64
import json
from typing import Any

import docker
import pytest
from lamina.config import Settings
from support.functions import Functions
from support.images import build_awslambdaric_image
from support.invoking import invoke

NODE = """
let count = 0;
exports.asyncHandler = async (event, context) => {
  count += 1;
  console.log('node says', count);
  return { count, event, fn: context.functionName, remaining: context.getRemainingTimeInMillis() > 0 };
};
exports.callbackHandler = (event, context, callback) => {
  setTimeout(() => callback(null, { style: 'callback', event }), 10);
};
exports.promiseHandler = (event) => Promise.resolve({ style: 'promise', event });
exports.failing = async () => { throw new TypeError('node boom'); };
"""

BOOTSTRAP = r"""#!/usr/bin/python3
import json, os, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
count = 0
print("custom runtime up", flush=True)
while True:
    with urllib.request.urlopen(api + "next") as resp:
        rid = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(resp.read() or b"null")
    count += 1
    body = json.dumps({"echo": event, "count": count, "handler": os.environ["_HANDLER"]}).encode()
    req = urllib.request.Request(api + rid + "/response", data=body, method="POST")
    urllib.request.urlopen(req).read()
"""


def test_nodejs_handler_styles(client: Any, fns: Functions) -> None:
    for style in ("asyncHandler", "callbackHandler", "promiseHandler", "failing"):
        fns.create(f"node-{style}", {"index.js": NODE}, runtime="nodejs18.x", handler=f"index.{style}")
    first = invoke(client, "node-asyncHandler", {"x": 1}, tail=True)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json() == {"count": 1, "event": {"x": 1}, "fn": "node-asyncHandler", "remaining": True}
    assert "node says 1" in base64.b64decode(first.headers["X-Amz-Log-Result"]).decode()
    assert invoke(client, "node-asyncHandler").get_json()["count"] == 2
    assert invoke(client, "node-callbackHandler", {"y": 2}).get_json() == {"style": "callback", "event": {"y": 2}}
    assert invoke(client, "node-promiseHandler", [1]).get_json() == {"style": "promise", "event": [1]}
    failed = invoke(client, "node-failing")
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.get_json()["errorType"] == "TypeError"
    assert failed.get_json()["errorMessage"] == "node boom"


def test_provided_runtime_runs_the_functions_bootstrap(client: Any, fns: Functions) -> None:
    fns.create("custom", {"bootstrap": BOOTSTRAP}, runtime="provided.al2023", handler="my.handler",
               executable=["bootstrap"])
    first = invoke(client, "custom", {"hello": "world"}, tail=True)
    assert first.status_code == 200, first.get_data(as_text=True)
    # The bootstrap posts without a JSON Content-Type (urllib's form default), passed through as-is.
    assert json.loads(first.get_data()) == {"echo": {"hello": "world"}, "count": 1, "handler": "my.handler"}
    assert "REPORT RequestId" in base64.b64decode(first.headers["X-Amz-Log-Result"]).decode()
    # Init output precedes START (as on AWS): it is in the stream, not in the invocation's tail.
    events = client.get("/lamina/v1/functions/custom/logs").get_json()["events"]
    assert events[0]["message"] == "custom runtime up"
    assert json.loads(invoke(client, "custom").get_data())["count"] == 2


def test_provided_without_bootstrap_is_an_init_error(client: Any, fns: Functions) -> None:
    fns.create("nobootstrap", {"readme.txt": "no bootstrap here"}, runtime="provided.al2023", handler="x")
    resp = invoke(client, "nobootstrap")
    assert resp.headers["X-Amz-Function-Error"] == "Unhandled"
    assert resp.get_json()["errorType"] == "Runtime.InvalidEntrypoint", resp.get_json()


@pytest.fixture(scope="session")
def ric_image(docker_client: docker.DockerClient, settings: Settings) -> str:
    return build_awslambdaric_image(docker_client, settings)


def test_awslambdaric_container_image(client: Any, fns: Functions, ric_image: str, settings: Settings) -> None:
    fns.create("ric", image_uri=ric_image, runtime=None, handler=None, memory=256)
    first = invoke(client, "ric", {"k": "v"}, tail=True)
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    assert body["event"] == {"k": "v"} and body["event_type"] == "dict"
    assert body["count"] == 1
    assert body["function_name"] == "ric"
    assert body["invoked_function_arn"] == f"arn:aws:lambda:{settings.region}:{settings.account_id}:function:ric"
    assert body["request_id"] == first.headers["x-amzn-RequestId"]
    assert body["remaining_ms"] > 0 and body["trace_id"].startswith("Root=1-")
    assert "awslambdaric handler 1" in base64.b64decode(first.headers["X-Amz-Log-Result"]).decode()
    assert invoke(client, "ric").get_json()["count"] == 2
    # ImageConfig overrides the image's CMD (the handler).
    fns.create("ric-fail", image_uri=ric_image, runtime=None, handler=None, image_config={"Command": ["app.fail"]})
    failed = invoke(client, "ric-fail")
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.get_json()["errorType"] == "ValueError"
    assert failed.get_json()["errorMessage"] == "awslambdaric says no"
