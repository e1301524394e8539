"""InvokeAsync (deprecated by AWS, still in botocore): ``POST /2014-11-13/functions/{name}/invoke-async``
queues the body as an Event invocation and answers 202 ``{"Status": 202}``."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from flask.typing import ResponseReturnValue

from lamina.api.errors import request_id
from lamina.api.invoke import invoker_of
from lamina.errors import RequestTooLargeException
from lamina.services.invoke.requests import MAX_ASYNC_PAYLOAD, InvocationRequest

bp = Blueprint("invoke_async", __name__)


@bp.post("/2014-11-13/functions/<path:function_name>/invoke-async")
def invoke_async(function_name: str) -> ResponseReturnValue:
    length = request.content_length
    if length is not None and length > MAX_ASYNC_PAYLOAD:
        raise RequestTooLargeException(
            f"Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the InvokeFunction operation"
        )
    invoker = invoker_of(current_app)
    invoker.invoke(InvocationRequest(
        account_id=g.account_id, function_name=function_name,
        payload=request.get_data(cache=False), invocation_type="Event", request_id=request_id(),
    ))
    return {"Status": 202}, 202
