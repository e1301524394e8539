"""Invoke (``POST /2015-03-31/functions/{FunctionName}/invocations``): parse, one service call, serialize."""

from __future__ import annotations

import functools

from flask import Blueprint, Flask, Response, current_app, g, request

from lamina.api.errors import request_id
from lamina.errors import RequestTooLargeException
from lamina.services.events import events
from lamina.services.invoke.invocations import Invoker
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


@bp.post("/2015-03-31/functions/<path:function_name>/invocations")
def invoke(function_name: str) -> Response:
    invoker = invoker_of(current_app)
    # Authentication's Redis checks, deferred by lamina.api.auth to the invoker (one round trip fewer).
    admission = g.pop("admission", None)
    length = request.content_length
    if length is not None and length > MAX_SYNC_PAYLOAD:
        invoker.admit(admission)
        raise RequestTooLargeException(
            f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
        )
    headers = request.headers
    result = invoker.invoke(
        InvocationRequest(
            account_id=g.account_id,
            function_name=function_name,
            qualifier=request.args.get("Qualifier") or None,
            payload=request.get_data(cache=False),
            invocation_type=headers.get("X-Amz-Invocation-Type") or "RequestResponse",
            log_type=headers.get("X-Amz-Log-Type") or "None",
            client_context=headers.get("X-Amz-Client-Context") or None,
            request_id=request_id(),
            trace_id=headers.get("X-Amzn-Trace-Id") or None,
            admission=admission,
            client_call=ClientCall.from_headers(headers.get("amz-sdk-invocation-id"), headers.get("amz-sdk-request")),
        )
    )
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
