"""Function URLs: configuration (Create/Get/Update/Delete/List) and serving HTTP requests.

A request to ``/lamina-url/<url id>/<path>`` becomes an API Gateway payload-format-2.0 event, the
function runs synchronously, and its answer becomes the HTTP response with format 2.0's rules: an
object with ``statusCode`` gives status, ``headers``, ``cookies`` (one Set-Cookie each), ``body``
(base64-decoded when ``isBase64Encoded``); any other JSON answer is a 200 ``application/json`` body
(a bare string is the body itself). CORS, when configured, answers preflight requests without
invoking the function and adds the allow/expose headers to every answer to an allowed origin.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from lamina.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.iam import iam, policies
from lamina.services.iam.iam import Principal
from lamina.services.invoke.requests import MAX_SYNC_PAYLOAD, InvocationRequest, InvocationResult, Invokes
from lamina.services.records import Page
from lamina.services.triggers import schedules
from lamina.store import queries
from lamina.store import triggers as store
from lamina.store.models import FunctionUrl

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
METHODS = ("GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*")
PATH_PREFIX = "/lamina-url"
_TEXT_TYPES = re.compile(
    r"(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|graphql))(;.*)?",
    re.IGNORECASE,
)


# -- configuration


@dataclass(frozen=True)
class UrlRecord:
    url_id: str
    function_url: str
    function_arn: str
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str
    creation_time: datetime
    last_modified: datetime
    qualifier: str


def record(deps: Deps, row: FunctionUrl, account_id: str, fn_name: str) -> UrlRecord:
    s = deps.settings
    return UrlRecord(
        url_id=row.url_id, function_url=f"{s.base_url}{PATH_PREFIX}/{row.url_id}/",
        function_arn=arns.function_arn(s.region, account_id, fn_name, row.qualifier or None),
        auth_type=row.auth_type, cors=row.cors, invoke_mode=row.invoke_mode, creation_time=row.creation_time,
        last_modified=row.last_modified, qualifier=row.qualifier,
    )


def _str_list(value: Any, name: str, max_items: int = 100, item_len: int = 1024) -> list[str]:
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidParameterValueException(f"Cors.{name} must be a list of at most {max_items} strings.")
    for v in value:
        if not isinstance(v, str) or not 1 <= len(v) <= item_len:
            raise InvalidParameterValueException(f"Cors.{name} must hold strings of 1 to {item_len} characters.")
    return list(value)


def check_cors(cors: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a Cors object (PascalCase keys, as on the wire); return it normalised, or None."""
    if cors is None:
        return None
    if not isinstance(cors, Mapping):
        raise InvalidParameterValueException("Cors must be an object.")
    out: dict[str, Any] = {}
    for key, value in cors.items():
        if key == "AllowCredentials":
            if not isinstance(value, bool):
                raise InvalidParameterValueException("Cors.AllowCredentials must be a boolean.")
            out[key] = value
        elif key == "MaxAge":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 86400:
                raise InvalidParameterValueException("Cors.MaxAge must be between 0 and 86400.")
            out[key] = value
        elif key == "AllowMethods":
            methods = [m.upper() for m in _str_list(value, key, 6, 6)]
            bad = [m for m in methods if m not in METHODS]
            if bad:
                raise InvalidParameterValueException(f"Cors.AllowMethods has an invalid method: {bad[0]}")
            out[key] = methods
        elif key in ("AllowHeaders", "ExposeHeaders", "AllowOrigins"):
            out[key] = _str_list(value, key, 100, 1024 if key != "AllowOrigins" else 253)
        else:
            raise InvalidParameterValueException(f"Unknown Cors member: {key}")
    return out


def _qualifier(deps: Deps, session: Any, account_id: str, function_name: str,
               qualifier: str | None) -> tuple[Any, str]:
    fn, qual = schedules.target(deps, session, account_id, function_name, qualifier)
    if qual is not None and (qual == arns.LATEST or arns.VERSION_RE.fullmatch(qual)):
        if qual != arns.LATEST:
            raise InvalidParameterValueException(
                "Function URLs may be created for an alias or for the unqualified function, not for a version."
            )
        qual = None
    return fn, qual or ""


def create(deps: Deps, account_id: str, function_name: str, qualifier: str | None, auth_type: str | None,
           cors: Mapping[str, Any] | None = None, invoke_mode: str | None = None) -> UrlRecord:
    """CreateFunctionUrlConfig; ResourceConflictException if the function (qualifier) already has one."""
    if auth_type not in AUTH_TYPES:
        raise InvalidParameterValueException("AuthType must be NONE or AWS_IAM.")
    mode = invoke_mode or "BUFFERED"
    if mode not in INVOKE_MODES:
        raise InvalidParameterValueException("InvokeMode must be BUFFERED or RESPONSE_STREAM.")
    cors_ok = check_cors(cors)
    with deps.sessions.begin() as session:
        fn, qual = _qualifier(deps, session, account_id, function_name, qualifier)
        common.refuse_for_tenancy(fn, "A function URL")
        now = common.now()
        row = FunctionUrl(url_id=secrets.token_hex(16), function_id=fn.id, qualifier=qual, auth_type=auth_type,
                          cors=cors_ok, invoke_mode=mode, creation_time=now, last_modified=now)
        if not queries.add_unique(session, row):
            raise ResourceConflictException(
                f"Failed to create function url config for [functionArn = "
                f"{arns.function_arn(deps.settings.region, account_id, fn.name, qual or None)}]. Error message: "
                "FunctionUrlConfig exists for this Lambda function"
            )
        rec = record(deps, row, account_id, fn.name)
    if auth_type == "NONE":
        _grant_public(deps, account_id, fn.name, qual)
    return rec


def _grant_public(deps: Deps, account_id: str, function_name: str, qualifier: str) -> None:
    """What the Lambda console adds with a URL of AuthType NONE: anyone may call it (checked in ``serve``)."""
    policies.grant_trigger(deps, account_id, function_name, qualifier or None, policies.PUBLIC_URL_SID, "*",
                           action="lambda:InvokeFunctionUrl", url_auth_type="NONE")


def _load(deps: Deps, session: Any, account_id: str, function_name: str, qualifier: str | None,
          lock: bool = False) -> tuple[FunctionUrl, str]:
    fn, qual = _qualifier(deps, session, account_id, function_name, qualifier)
    row = store.get_url(session, fn.id, qual, lock=lock)
    if row is None:
        raise ResourceNotFoundException("The resource you requested does not exist.")
    return row, fn.name


def get(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> UrlRecord:
    with deps.sessions() as session:
        row, fn_name = _load(deps, session, account_id, function_name, qualifier)
        return record(deps, row, account_id, fn_name)


def update(deps: Deps, account_id: str, function_name: str, qualifier: str | None, *, auth_type: str | None = None,
           cors: Mapping[str, Any] | None = None, invoke_mode: str | None = None) -> UrlRecord:
    if auth_type is not None and auth_type not in AUTH_TYPES:
        raise InvalidParameterValueException("AuthType must be NONE or AWS_IAM.")
    if invoke_mode is not None and invoke_mode not in INVOKE_MODES:
        raise InvalidParameterValueException("InvokeMode must be BUFFERED or RESPONSE_STREAM.")
    cors_ok = check_cors(cors)
    with deps.sessions.begin() as session:
        row, fn_name = _load(deps, session, account_id, function_name, qualifier, lock=True)
        if auth_type is not None:
            row.auth_type = auth_type
        if cors is not None:
            row.cors = cors_ok
        if invoke_mode is not None:
            row.invoke_mode = invoke_mode
        row.last_modified = common.now()
        session.flush()
        rec = record(deps, row, account_id, fn_name)
        qual = row.qualifier
    if auth_type == "NONE":
        _grant_public(deps, account_id, fn_name, qual)
    return rec


def delete(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> None:
    with deps.sessions.begin() as session:
        row, _ = _load(deps, session, account_id, function_name, qualifier, lock=True)
        queries.delete_obj(session, row)


def list_urls(deps: Deps, account_id: str, function_name: str) -> Page[UrlRecord]:
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        return Page([record(deps, row, account_id, fn.name) for row in store.list_urls(session, fn.id)])


# -- serving


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # after /lamina-url/<id>, starting with "/"
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    url_id: str
    account_id: str
    function_name: str
    qualifier: str | None
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str = "BUFFERED"


def find(deps: Deps, url_id: str) -> Target | None:
    with deps.sessions() as session:
        found = store.url_by_id(session, url_id)
        if found is None:
            return None
        row, account_id, fn_name = found
        return Target(url_id, account_id, fn_name, row.qualifier or None, row.auth_type, row.cors,
                      row.invoke_mode or "BUFFERED")


def _is_text(content_type: str | None) -> bool:
    return content_type is None or bool(_TEXT_TYPES.fullmatch(content_type.strip()))


def build_event(req: HttpRequest, target: Target, region: str, request_id: str,
                now: float | None = None) -> dict[str, Any]:
    """The API Gateway payload-format-2.0 event of ``req``."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in req.headers:
        low = name.lower()
        if low == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[low] = f"{headers[low]},{value}" if low in headers else value
    query: dict[str, str] = {}
    for k, v in parse_qsl(req.raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    domain = f"{target.url_id}.lambda-url.{region}.on.aws"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.path,
        "rawQueryString": req.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": "anonymous" if target.auth_type == "NONE" else target.account_id,
        "apiId": target.url_id,
        "domainName": domain,
        "domainPrefix": target.url_id,
        "http": {
            "method": req.method,
            "path": req.path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if req.body:
        text = _is_text(headers.get("content-type"))
        if text:
            try:
                event["body"] = req.body.decode("utf-8")
            except UnicodeDecodeError:
                text = False
        if not text:
            event["body"] = base64.b64encode(req.body).decode()
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    event["pathParameters"] = None
    event["stageVariables"] = None
    return event


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, json.dumps({"Message": message}).encode(), [("Content-Type", "application/json")])


def to_response(result: InvocationResult) -> HttpResponse:
    """The HTTP response for a function's answer (format 2.0); 502 for a function error."""
    if result.function_error:
        return _error(502, "Internal Server Error")
    try:
        answer = json.loads(result.payload) if result.payload.strip() else None
    except ValueError:
        return HttpResponse(200, result.payload, [("Content-Type", result.content_type or "application/json")])
    if isinstance(answer, dict) and "statusCode" in answer:
        try:
            status = int(answer["statusCode"])
        except (TypeError, ValueError):
            return _error(502, "Internal Server Error")
        headers: list[tuple[str, str]] = []
        for k, v in (answer.get("headers") or {}).items():
            headers.append((str(k), v if isinstance(v, str) else json.dumps(v)))
        for k, values in (answer.get("multiValueHeaders") or {}).items():
            for v in values if isinstance(values, list) else [values]:
                headers.append((str(k), str(v)))
        for cookie in answer.get("cookies") or []:
            headers.append(("Set-Cookie", str(cookie)))
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        body = answer.get("body")
        if body is None:
            data = b""
        elif not isinstance(body, str):
            data = json.dumps(body).encode()
        elif answer.get("isBase64Encoded"):
            try:
                data = base64.b64decode(body)
            except ValueError:
                return _error(502, "Internal Server Error")
        else:
            data = body.encode()
        return HttpResponse(status, data, headers)
    data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    return HttpResponse(200, data, [("Content-Type", "application/json")])


def _origin_allowed(cors: Mapping[str, Any], origin: str) -> str | None:
    origins = cors.get("AllowOrigins") or []
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    for allowed in origins:
        if allowed.lower() == origin.lower():
            return origin
    return None


def cors_headers(cors: Mapping[str, Any] | None, origin: str | None, preflight: bool) -> list[tuple[str, str]]:
    """The CORS headers of an answer to ``origin`` (none when CORS is off or the origin not allowed)."""
    if not cors or not origin:
        return []
    allow = _origin_allowed(cors, origin)
    if allow is None:
        return []
    out = [("Access-Control-Allow-Origin", allow)]
    if allow != "*":
        out.append(("Vary", "Origin"))
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    if preflight:
        if cors.get("AllowMethods"):
            out.append(("Access-Control-Allow-Methods", ", ".join(cors["AllowMethods"])))
        if cors.get("AllowHeaders"):
            out.append(("Access-Control-Allow-Headers", ", ".join(cors["AllowHeaders"])))
        if cors.get("MaxAge") is not None:
            out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    elif cors.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ", ".join(cors["ExposeHeaders"])))
    return out


_CORS_NAMES = {"access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers",
               "access-control-allow-methods", "access-control-allow-headers", "access-control-max-age"}


def _authorized(deps: Deps, target: Target, authenticate: Callable[[], Principal] | None, signed: bool) -> bool:
    """May this request invoke ``target``? NONE: while the function's policy lets anyone
    (``FunctionURLAllowPublicAccess``); AWS_IAM: a SigV4-signed caller (as AWS, no other credentials) of
    the function's account whose rights include lambda:InvokeFunctionUrl, or of another account the
    policy grants it to."""
    action = "lambda:InvokeFunctionUrl"
    if target.auth_type != "AWS_IAM":
        return policies.is_allowed(deps, target.account_id, target.function_name, target.qualifier,
                                   principal=("*", "url.lamina"), action=action)
    if authenticate is None or not signed:
        return False
    try:
        caller = authenticate()
    except LambdaError:
        return False
    if caller.account_id == target.account_id:
        if caller.statements is None:
            return True
        arn = arns.function_arn(deps.settings.region, target.account_id, target.function_name, target.qualifier)
        unqualified = arns.function_arn(deps.settings.region, target.account_id, target.function_name)
        return any(iam.statements_allow(caller.statements, action, r) for r in (arn, unqualified))
    return policies.is_allowed(deps, target.account_id, target.function_name, target.qualifier,
                               principal=(caller.account_id, caller.arn), action=action)


# A streaming handler's answer for a function URL (Node.js awslambda.HttpResponseStream.from): a JSON prelude
# (statusCode, headers, cookies), 8 NUL bytes, then the body.
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
_PRELUDE_END = b"\0" * 8


def to_stream_response(result: InvocationResult) -> HttpResponse:
    """The HTTP response of a RESPONSE_STREAM URL: a streaming handler's prelude and body; any other answer
    as a BUFFERED URL reads it."""
    if result.function_error or result.content_type != HTTP_INTEGRATION or _PRELUDE_END not in result.payload:
        if not result.function_error and result.content_type not in ("application/json", HTTP_INTEGRATION):
            # A stream the handler wrote without a prelude: its bytes, with its content type.
            return HttpResponse(200, result.payload, [("Content-Type", result.content_type)])
        return to_response(result)
    raw, body = result.payload.split(_PRELUDE_END, 1)
    try:
        prelude = json.loads(raw) if raw.strip() else {}
        status = int(prelude.get("statusCode", 200))
    except (ValueError, TypeError, AttributeError):
        return _error(502, "Internal Server Error")
    headers = [(str(k), str(v)) for k, v in (prelude.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(c)) for c in prelude.get("cookies") or []]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    return HttpResponse(status, body, headers)


def serve(deps: Deps, invoker: Invokes, url_id: str, req: HttpRequest, request_id: str | None = None,
          authenticate: Callable[[], Principal] | None = None) -> HttpResponse:
    """Answer one HTTP request to function URL ``url_id``.

    ``authenticate`` proves the caller of an AWS_IAM URL (SigV4, service ``lambda``, as the API checks
    it); it raises a LambdaError when the signature does not hold.
    """
    rid = request_id or str(uuid.uuid4())
    target = find(deps, url_id)
    if target is None:
        return _error(404, "Not Found")
    headers = {k.lower(): v for k, v in req.headers}
    origin = headers.get("origin")
    if target.cors and req.method == "OPTIONS" and "access-control-request-method" in headers:
        return HttpResponse(200, b"", cors_headers(target.cors, origin, preflight=True))
    if not _authorized(deps, target, authenticate, headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 ")):
        return _error(403, "Forbidden")
    if len(req.body) > MAX_SYNC_PAYLOAD:
        return _error(413, "Request Entity Too Large")
    event = build_event(req, target, deps.settings.region, rid)
    try:
        result = invoker.invoke(InvocationRequest(
            account_id=target.account_id, function_name=target.function_name, qualifier=target.qualifier,
            payload=json.dumps(event).encode(), request_id=rid,
        ))
    except LambdaError as err:
        if err.status == 429:
            return _error(429, "Rate Exceeded.")
        if err.status == 413:
            return _error(413, "Request Entity Too Large")
        return _error(502 if err.status >= 500 else 500, "Internal Server Error")
    resp = to_stream_response(result) if target.invoke_mode == "RESPONSE_STREAM" else to_response(result)
    if target.cors:
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() not in _CORS_NAMES]
        resp.headers += cors_headers(target.cors, origin, preflight=False)
    return resp
