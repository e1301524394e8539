"""The AWS JSON protocols served beside Lambda's REST API: ``POST /`` with ``X-Amz-Target:
<Prefix>.<Operation>`` (SQS, Kinesis Data Streams, CloudWatch Logs); and SQS's query protocol
(``Action=...`` forms, at ``/`` or at a queue's URL, ``lamina.api.sqs_query``), and IAM's query protocol
(``Version=2010-05-08``, ``lamina.api.iam``).

Each service module gives its target prefix, its SigV4 service name and a ``handle(operation, body)``;
this blueprint picks the module from the target. Authentication has already run (``lamina.api.auth``
checks that the signature is scoped to the service the target names); each operation authorizes its
own resource, since the resource is named in the body.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Blueprint, Response, g, request

from lamina.api import sqs_query
from lamina.errors import InvalidRequestContentException, LambdaError

bp = Blueprint("aws_json", __name__)


class JsonService(Protocol):
    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def error(self, err: LambdaError) -> Response: ...


@dataclass(frozen=True)
class JsonProtocol:
    prefix: str  # X-Amz-Target prefix, with its dot
    signing_name: str  # the SigV4 service name
    content_type: str


SQS = JsonProtocol("AmazonSQS.", "sqs", "application/x-amz-json-1.0")
KINESIS = JsonProtocol("Kinesis_20131202.", "kinesis", "application/x-amz-json-1.1")
LOGS = JsonProtocol("Logs_20140328.", "logs", "application/x-amz-json-1.1")
PROTOCOLS = (SQS, KINESIS, LOGS)


def protocol_of(path: str, method: str, target: str) -> JsonProtocol | None:
    """The JSON protocol a request speaks, or None for Lambda's REST API."""
    if path != "/" or method != "POST":
        return None
    return next((p for p in PROTOCOLS if target.startswith(p.prefix)), None)


def answer(protocol: JsonProtocol, body: dict[str, Any], status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, content_type=protocol.content_type)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def _services() -> dict[str, Any]:
    from lamina.api import cloudwatch_logs, kinesis, sqs

    return {SQS.prefix: sqs, KINESIS.prefix: kinesis, LOGS.prefix: cloudwatch_logs}


def error_response(err: LambdaError) -> Response | None:
    """``err`` in the shape of the protocol this request speaks (None for Lambda's REST API)."""
    protocol = protocol_of(request.path, request.method, request.headers.get("X-Amz-Target", ""))
    if protocol is None:
        from lamina.api import iam

        if iam.speaks_iam(request):
            return iam.error(err, _request_id())
        if request.endpoint == "aws_json.queue_url" or (request.path == "/" and sqs_query.speaks_query(request)):
            return sqs_query.error(err, _request_id())
        return None
    service: JsonService = _services()[protocol.prefix]
    return service.error(err)


def _request_id() -> str:
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = str(uuid.uuid4())
    return str(rid)


@bp.route("/<account>/<name>", methods=["GET", "POST"])
def queue_url(account: str, name: str) -> Response:
    """A queue's URL: SQS's query protocol sends there without a QueueUrl parameter."""
    return sqs_query.handle(request, f"/{account}/{name}", _request_id())


@bp.post("/")
def dispatch() -> Response:
    target = request.headers.get("X-Amz-Target", "")
    protocol = protocol_of("/", "POST", target)
    if protocol is None and not target and sqs_query.speaks_query(request):
        from lamina.api import iam

        if iam.speaks_iam(request):
            return iam.handle(request, _request_id())
        return sqs_query.handle(request, None, _request_id())
    if protocol is None:
        return answer(LOGS, {"__type": "UnknownOperationException",
                             "message": f"Unknown or missing X-Amz-Target: {target!r}"}, 400)
    service: JsonService = _services()[protocol.prefix]
    operation = target[len(protocol.prefix):]
    try:
        try:
            body = json.loads(request.get_data(cache=False) or b"{}")
        except (ValueError, RecursionError):
            raise InvalidRequestContentException("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidRequestContentException("The request body must be a JSON object.")
        return answer(protocol, service.handle(operation, body))
    except LambdaError as err:
        return service.error(err)
