"""The agent with lamina's nodejs runtime: callback, async and Promise handlers, context, errors."""

from __future__ import annotations

import pytest
from support.containers import ARN, EnvFactory

pytestmark = pytest.mark.docker

INDEX = """
let count = 0;

exports.callback = function (event, context, callback) {
  count += 1;
  console.log('callback style', count);
  setTimeout(() => callback(null, { style: 'callback', event, count }), 5);
};

exports.asyncHandler = async (event, context) => {
  count += 1;
  return {
    style: 'async',
    count,
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    remaining: context.getRemainingTimeInMillis(),
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    nodePath: process.env.NODE_PATH,
    clientContext: context.clientContext,
  };
};

exports.promise = (event) => new Promise((resolve) => setTimeout(() => resolve({ style: 'promise', event }), 5));

exports.succeed = (event, context) => { setTimeout(() => context.succeed({ style: 'succeed' }), 5); };

exports.nothing = (event, context) => { console.log('no callback, no promise'); };

exports.nested = { deeper: { fn: async () => 'nested' } };

class MyError extends Error {
  constructor(message) { super(message); this.name = 'MyError'; }
}

exports.asyncError = async () => { throw new MyError('async went wrong'); };
exports.callbackError = (event, context, callback) => callback(new TypeError('callback went wrong'));
exports.stringError = (event, context, callback) => callback('just a string');
exports.rejected = () => Promise.reject(new RangeError('rejected'));
exports.crash = () => { process.exit(3); };
"""


@pytest.fixture
def node(envs: EnvFactory, nodejs_image: str):
    def start(handler: str, files: dict[str, str] | None = None, **kw):
        return envs.start(
            nodejs_image,
            files={"index.js": INDEX, **(files or {})},
            handler=handler,
            runtime_cmd=["/var/runtime/bootstrap"],
            **kw,
        )

    return start


def test_callback_handler_and_warm_state(node) -> None:
    env = node("index.callback")
    first = env.invoke({"a": 1}, tail=True)
    assert first.outcome == "success"
    assert first.json() == {"style": "callback", "event": {"a": 1}, "count": 1}
    assert "\tINFO\tcallback style 1" in first.log_tail
    second = env.invoke({"a": 2})
    assert second.json()["count"] == 2


def test_async_handler_and_context(node) -> None:
    env = node("index.asyncHandler")
    res = env.invoke({}, request_id="node-req", headers={"Lambda-Runtime-Client-Context": '{"custom": {"x": 1}}'})
    assert res.outcome == "success"
    body = res.json()
    assert body["style"] == "async"
    assert body["awsRequestId"] == "node-req"
    assert body["functionName"] == "agent-test"
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == ARN
    assert body["memoryLimitInMB"] == "256"
    assert 0 < body["remaining"] <= 3000
    assert body["logGroupName"] == "/aws/lambda/agent-test"
    assert body["logStreamName"].startswith("2024/01/01/[$LATEST]")
    assert body["callbackWaitsForEmptyEventLoop"] is True
    assert "/opt/nodejs/node_modules" in body["nodePath"].split(":")
    assert body["clientContext"] == {"custom": {"x": 1}}


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("index.promise", {"style": "promise", "event": {"p": True}}),
        ("index.succeed", {"style": "succeed"}),
        ("index.nothing", None),
        ("index.nested.deeper.fn", "nested"),
    ],
)
def test_other_handler_styles(node, handler: str, expected: object) -> None:
    env = node(handler)
    res = env.invoke({"p": True})
    assert res.outcome == "success"
    assert res.json() == expected


def test_esm_module(node) -> None:
    env = node("esm.handler", files={"esm.mjs": "export const handler = async (event) => ({ esm: event.v });\n"})
    assert env.invoke({"v": 7}).json() == {"esm": 7}


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("index.asyncError", "MyError", "async went wrong"),
        ("index.callbackError", "TypeError", "callback went wrong"),
        ("index.stringError", "string", "just a string"),
        ("index.rejected", "RangeError", "rejected"),
    ],
)
def test_handler_errors(node, handler: str, error_type: str, message: str) -> None:
    env = node(handler)
    res = env.invoke({})
    assert res.outcome == "error"
    assert res.headers["x-lamina-function-error"] == "Unhandled"
    body = res.json()
    assert body["errorType"] == error_type
    assert body["errorMessage"] == message
    assert isinstance(body["trace"], list)
    assert env.invoke({}).outcome == "error"  # still alive


@pytest.mark.parametrize(
    ("handler", "files", "error_type"),
    [
        ("missing.handler", {}, "Runtime.ImportModuleError"),
        ("index.notThere", {}, "Runtime.HandlerNotFound"),
        ("nodot", {}, "Runtime.MalformedHandlerName"),
        ("bad.handler", {"bad.js": "exports.handler = (;\n"}, "Runtime.UserCodeSyntaxError"),
    ],
)
def test_init_errors(node, handler: str, files: dict[str, str], error_type: str) -> None:
    env = node(handler, files)
    res = env.invoke({})
    assert res.outcome == "init_error"
    assert res.headers["x-lamina-reset"] == "1"
    assert res.json()["errorType"] == error_type
    assert env.wait_exit() == 0


def test_process_exit(node) -> None:
    env = node("index.crash")
    res = env.invoke({}, request_id="node-exit")
    assert res.outcome == "exit"
    assert res.json()["errorMessage"] == "RequestId: node-exit Error: Runtime exited with error: exit status 3"
