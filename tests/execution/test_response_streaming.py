"""InvokeWithResponseStream and RESPONSE_STREAM function URLs (issue 16), through boto3's own event-stream
decoder: a Node.js `awslambda.streamifyResponse` handler's writes, another runtime's answer as one chunk, a
function error in InvokeComplete, and a streaming handler's HTTP prelude behind a function URL."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lamina.services.invoke.invocations import Invoker
from support.lambda_api import ROLE, make_zip

STREAMING = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  for (const word of ['one ', 'two ', 'three']) {
    responseStream.write(word);
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log('streamed for', context.awsRequestId);
  responseStream.end();
});
"""

HTTP_STREAMING = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201, headers: { 'Content-Type': 'text/csv', 'X-Made-By': 'stream' }, cookies: ['a=1'] });
  out.write('id,name\\n');
  out.write('1,tea\\n');
  out.end();
});
"""

PYTHON = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("no stream for you")
    return {"echo": event}
"""


def _create(lam: Any, name: str, files: dict[str, str], runtime: str, handler: str) -> None:
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": make_zip(files)}, MemorySize=256)


def _events(out: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    chunks, complete = [], None
    for event in out["EventStream"]:
        if "PayloadChunk" in event:
            chunks.append(event["PayloadChunk"]["Payload"])
        if "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    assert complete is not None, "no InvokeComplete event"
    return b"".join(chunks), complete


def test_boto3_reads_a_streaming_handlers_writes_and_other_runtimes_answers(lambda_client: Any,
                                                                            invoker: Invoker) -> None:
    lam = lambda_client
    _create(lam, "streamer", {"index.js": STREAMING}, "nodejs20.x", "index.handler")
    out = lam.invoke_with_response_stream(FunctionName="streamer", LogType="Tail")
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    body, complete = _events(out)
    assert body == b"one two three"
    assert "ErrorCode" not in complete
    assert "streamed for" in base64.b64decode(complete["LogResult"]).decode()

    _create(lam, "plain-py", {"app.py": PYTHON}, "python3.11", "app.handler")
    body, complete = _events(lam.invoke_with_response_stream(FunctionName="plain-py", Payload=b'{"k": 1}'))
    assert json.loads(body) == {"echo": {"k": 1}} and complete == {}
    body, complete = _events(lam.invoke_with_response_stream(FunctionName="plain-py", Payload=b'{"fail": 1}'))
    assert body == b""
    assert complete["ErrorCode"] == "ValueError" and complete["ErrorDetails"] == "no stream for you"

    assert lam.invoke_with_response_stream(FunctionName="plain-py", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as err:
        lam.invoke_with_response_stream(FunctionName="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lam.invoke_with_response_stream(FunctionName="plain-py", Payload=b"{not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_a_response_stream_url_sends_the_handlers_status_headers_and_body(lambda_client: Any, client: Any,
                                                                         invoker: Invoker) -> None:
    lam = lambda_client
    _create(lam, "csv-stream", {"index.js": HTTP_STREAMING}, "nodejs20.x", "index.handler")
    url = lam.create_function_url_config(FunctionName="csv-stream", AuthType="NONE",
                                         InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    got = client.get(url[url.index("/lamina-url/"):])
    assert got.status_code == 201, got.get_data(as_text=True)
    assert got.headers["Content-Type"] == "text/csv" and got.headers["X-Made-By"] == "stream"
    assert got.headers["Set-Cookie"] == "a=1"
    assert got.get_data() == b"id,name\n1,tea\n"
    # A streaming handler that writes no prelude: its bytes, with the content type it set.
    _create(lam, "plain-stream", {"index.js": STREAMING}, "nodejs20.x", "index.handler")
    url = lam.create_function_url_config(FunctionName="plain-stream", AuthType="NONE",
                                         InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    got = client.get(url[url.index("/lamina-url/"):])
    assert got.status_code == 200 and got.get_data() == b"one two three"
    assert got.headers["Content-Type"] == "text/plain"
