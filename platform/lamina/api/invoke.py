"""Invoke (``POST /2015-03-31/functions/{FunctionName}/invocations``): parse, one service call, serialize."""

from __future__ import annotations

import functools
import json

from flask import Blueprint, Flask, Response, current_app, g, request

from lamina.api import event_stream
from lamina.api.errors import request_id
from lamina.errors import InvalidParameterValueException, RequestTooLargeException
from lamina.services.events import events
from lamina.services.invoke.invocations import Invoker, error_of
from lamina.services.invoke.requests import MAX_SYNC_PAYLOAD, InvocationRequest
from lamina.services.invoke.retry_join import ClientCall

bp = Blueprint("invoke", __name__)

EXTENSION = "lamina.invoker"


def init_app(app: Flask) -> None:
    """Make the process's Invoker (it connects to nothing until the first invoke)."""
    comps = app.extensions["lamina"]
    app.extensions[EXTENSION] = Invoker(
        settings=comps.settings,
        redis_client=comps.redis,
        sessions=comps.sessions,
        blob_path=comps.code_store.path,
        docker_client=lambda: comps.docker,
    )
    # InvocationType=Event: the event is queued for `lamina worker` (lamina.services.events.events).
    app.extensions[EXTENSION].enqueue_event = functools.partial(events.enqueue_request, comps, comps.queue)
    app.register_blueprint(bp)


def invoker_of(app: Flask) -> Invoker:
    return app.extensions[EXTENSION]


def _request(invoker: Invoker, function_name: str) -> InvocationRequest:
    # Authentication's Redis checks, deferred by lamina.api.auth to the invoker (one round trip fewer).
    admission = g.pop("admission", None)
    length = request.content_length
    if length is not None and length > MAX_SYNC_PAYLOAD:
        invoker.admit(admission)
        raise RequestTooLargeException(
            f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
        )
    headers = request.headers
    return InvocationRequest(
        account_id=g.account_id,
        function_name=function_name,
        qualifier=request.args.get("Qualifier") or None,
        payload=request.get_data(cache=False),
        invocation_type=headers.get("X-Amz-Invocation-Type") or "RequestResponse",
        log_type=headers.get("X-Amz-Log-Type") or "None",
        client_context=headers.get("X-Amz-Client-Context") or None,
        request_id=request_id(),
        trace_id=headers.get("X-Amzn-Trace-Id") or None,
        tenant_id=headers.get("X-Amz-Tenant-Id"),
        admission=admission,
        client_call=ClientCall.from_headers(headers.get("amz-sdk-invocation-id"), headers.get("amz-sdk-request")),
    )


@bp.post("/2015-03-31/functions/<path:function_name>/invocations")
def invoke(function_name: str) -> Response:
    invoker = invoker_of(current_app)
    result = invoker.invoke(_request(invoker, function_name))
    resp = Response(result.payload, status=result.status, content_type=result.content_type)
    if result.executed_version:
        resp.headers["X-Amz-Executed-Version"] = result.executed_version
    if result.function_error:
        resp.headers["X-Amz-Function-Error"] = result.function_error
    if result.log_result:
        resp.headers["X-Amz-Log-Result"] = result.log_result
    if result.trace_id:
        resp.headers["X-Amzn-Trace-Id"] = result.trace_id
    return resp


STREAM_CHUNK = 64 * 1024


@bp.post("/2021-11-15/functions/<path:function_name>/response-streaming-invocations")
def invoke_with_response_stream(function_name: str) -> Response:
    """InvokeWithResponseStream: the answer as Lambda's event stream (PayloadChunk..., InvokeComplete).

    The agent hands lamina one response per invocation, so the chunks are sent once the function is done
    (a streaming Node.js handler's writes included); the framing is what AWS's SDKs decode."""
    invoker = invoker_of(current_app)
    req = _request(invoker, function_name)
    if req.invocation_type not in ("RequestResponse", "DryRun"):
        invoker.admit(req.admission)
        raise InvalidParameterValueException(
            f"Unsupported InvocationType for InvokeWithResponseStream: {req.invocation_type}")
    result = invoker.invoke(req)
    if result.status == 204:
        return Response(status=204)
    parts: list[bytes] = []
    complete: dict[str, str] = {}
    if result.function_error:
        error_type, message = error_of(result.payload)
        complete.update(ErrorCode=error_type, ErrorDetails=message)
    else:
        parts += [event_stream.event("PayloadChunk", result.payload[i:i + STREAM_CHUNK], "application/octet-stream")
                  for i in range(0, len(result.payload), STREAM_CHUNK)]
    if result.log_result:
        complete["LogResult"] = result.log_result
    parts.append(event_stream.event("InvokeComplete", json.dumps(complete).encode(), "application/json"))
    resp = Response(b"".join(parts), status=200, content_type=event_stream.CONTENT_TYPE)
    if result.executed_version:
        resp.headers["X-Amz-Executed-Version"] = result.executed_version
    if result.trace_id:
        resp.headers["X-Amzn-Trace-Id"] = result.trace_id
    return resp

