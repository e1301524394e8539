"""Renders every error as Lambda does: JSON body, X-Amzn-ErrorType, x-amzn-RequestId, right status."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, g, has_request_context, json, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from lamina.api import aws_json
from lamina.errors import (
    InvalidRequestContentException,
    LambdaError,
    RequestTooLargeException,
    ResourceNotFoundException,
    ServiceException,
    TooManyRequestsException,
)
from lamina.logs import bind_request_id, unbind_request_id

log = logging.getLogger(__name__)


def error_response(err: LambdaError) -> Response:
    # A request in one of the JSON protocols (SQS, Kinesis, Logs) gets its error in that protocol's shape.
    shaped = aws_json.error_response(err) if has_request_context() else None
    if shaped is not None:
        return shaped
    resp = Response(json.dumps(err.body()), status=err.status, mimetype="application/json")
    resp.headers["X-Amzn-ErrorType"] = err.error_type
    if isinstance(err, TooManyRequestsException):
        resp.headers["Retry-After"] = str(err.retry_after_s)
    return resp


def request_id() -> str:
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = str(uuid.uuid4())
    return rid


def init_app(app: Flask) -> None:
    @app.before_request
    def _bind_request_id() -> None:
        # Every log line of this request, in any layer, carries its id (lamina.logs).
        g.log_token = bind_request_id(request_id())

    @app.teardown_request
    def _unbind_request_id(_exc: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            unbind_request_id(token)

    @app.after_request
    def _stamp_request_id(resp: Response) -> Response:
        resp.headers.setdefault("x-amzn-RequestId", request_id())
        return resp

    @app.errorhandler(LambdaError)
    def _lambda_error(err: LambdaError) -> Response:
        return error_response(err)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_err: RequestEntityTooLarge) -> Response:
        return error_response(RequestTooLargeException("Request must be smaller than the maximum request size."))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        if err.code == 404:
            return error_response(ResourceNotFoundException(f"No route for {request.method} {request.path}"))
        if err.code == 405:
            e = InvalidRequestContentException(f"Method {request.method} not allowed on {request.path}")
            resp = error_response(e)
            resp.status_code = 405
            return resp
        if err.code is not None and err.code < 500:
            return error_response(InvalidRequestContentException(err.description or err.name))
        return error_response(ServiceException(err.description or "Internal error"))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ServiceException(f"Internal error ({type(err).__name__}); request {request_id()}"))
