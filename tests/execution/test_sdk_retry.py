"""botocore retries a synchronous Invoke that outlasts its read timeout; lamina answers the retry with the
first attempt's result instead of running the function again (lamina.services.invoke.retry_join)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from lamina.services.invoke.invocations import Invoker
from lamina.services.invoke.retry_join import ClientCall
from support.functions import Functions

APP = """
import time

COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    time.sleep(event.get("sleep", 0))
    return {"count": COUNT, "request": context.aws_request_id}
"""


def _client(live_server: Any, credentials: Any, read_timeout: int) -> Any:
    return boto3.client(
        "lambda", endpoint_url=live_server.url, region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id, aws_secret_access_key=credentials.secret_access_key,
        config=Config(read_timeout=read_timeout, retries={"mode": "standard", "total_max_attempts": 3}),
    )


def _environments(invoker: Invoker, name: str) -> int:
    return sum(1 for e in invoker.pool.snapshot().envs if e.function_name == name)


def test_a_retry_after_the_read_timeout_gets_the_first_attempts_answer(
    live_server: Any, credentials: Any, fns: Functions, invoker: Invoker,
) -> None:
    fns.create("slow", {"app.py": APP}, timeout=60)
    client = _client(live_server, credentials, read_timeout=3)
    events: list[str] = []
    client.meta.events.register("before-send.lambda.Invoke",
                                lambda request, **_: events.append(str(request.headers.get("amz-sdk-request"))))
    resp = client.invoke(FunctionName="slow", Payload=json.dumps({"sleep": 5}).encode())
    body = json.loads(resp["Payload"].read())
    assert len(events) >= 2, events  # botocore did retry after its 3 s read timeout ...
    assert body["count"] == 1  # ... and got the first run's answer
    assert _environments(invoker, "slow") == 1  # a second run would have needed a second environment
    again = json.loads(client.invoke(FunctionName="slow", Payload=b'{"sleep": 0}')["Payload"].read())
    assert again["count"] == 2 and again["request"] != body["request"]  # a new call runs as usual


def test_short_functions_do_not_record_their_calls(
    live_server: Any, credentials: Any, fns: Functions, invoker: Invoker, redis: Any,
) -> None:
    fns.create("quick", {"app.py": APP}, timeout=3)
    client = _client(live_server, credentials, read_timeout=30)
    assert json.loads(client.invoke(FunctionName="quick")["Payload"].read())["count"] == 1
    assert not list(redis.scan_iter(match=f"lamina:{invoker.settings.instance}:sdkcall:*"))


def test_client_call_headers() -> None:
    call = ClientCall.from_headers("3f6a1c2e-0b1d-4e4f-9a8b-1c2d3e4f5a6b", "attempt=2; max=3")
    assert call == ClientCall("3f6a1c2e-0b1d-4e4f-9a8b-1c2d3e4f5a6b", 2)
    assert ClientCall.from_headers("3f6a1c2e-0b1d-4e4f", None) == ClientCall("3f6a1c2e-0b1d-4e4f", 1)
    assert ClientCall.from_headers(None, "attempt=2") is None
    assert ClientCall.from_headers("bad id with spaces", "attempt=2") is None
    assert ClientCall.from_headers("3f6a1c2e-0b1d", "attempt=99999999") == ClientCall("3f6a1c2e-0b1d", 1)
