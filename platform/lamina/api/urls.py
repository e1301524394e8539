"""Function URLs: the configuration API (/2021-10-31/functions/{name}/url) and the URLs themselves
(every method on /lamina-url/<url id>/<path>)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from lamina.api import auth, context
from lamina.api.errors import request_id
from lamina.api.shapes import Reader, time_str, without_none
from lamina.services.triggers import urls
from lamina.services.triggers.urls import UrlRecord

bp = Blueprint("urls", __name__)
CONFIG = "/2021-10-31/functions/<function_name>/url"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@bp.post(CONFIG)
def create_function_url_config(function_name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    cors = r.obj("Cors")
    rec = urls.create(context.deps(), context.account_id(), function_name, context.qualifier(),
                      r.string("AuthType", required=True), cors.data if cors else None, r.string("InvokeMode"))
    return url_config(rec, with_modified=False), 201


@bp.get(CONFIG)
def get_function_url_config(function_name: str) -> ResponseReturnValue:
    return url_config(urls.get(context.deps(), context.account_id(), function_name, context.qualifier()))


@bp.put(CONFIG)
def update_function_url_config(function_name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    cors = r.obj("Cors")
    rec = urls.update(context.deps(), context.account_id(), function_name, context.qualifier(),
                      auth_type=r.string("AuthType"), cors=cors.data if cors else None,
                      invoke_mode=r.string("InvokeMode"))
    return url_config(rec)


@bp.delete(CONFIG)
def delete_function_url_config(function_name: str) -> ResponseReturnValue:
    urls.delete(context.deps(), context.account_id(), function_name, context.qualifier())
    return "", 204


@bp.get("/2021-10-31/functions/<function_name>/urls")
def list_function_url_configs(function_name: str) -> ResponseReturnValue:
    page = urls.list_urls(context.deps(), context.account_id(), function_name)
    return {"FunctionUrlConfigs": [url_config(r) for r in page.items]}


@bp.route(urls.PATH_PREFIX + "/<url_id>", methods=ALL_METHODS, defaults={"path": ""}, strict_slashes=False)
@bp.route(urls.PATH_PREFIX + "/<url_id>/<path:path>", methods=ALL_METHODS)
def serve_function_url(url_id: str, path: str) -> Response:
    prefix = f"{urls.PATH_PREFIX}/{url_id}"
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    raw_path = raw.split("?", 1)[0]
    raw_path = raw_path[len(prefix):] if raw_path.startswith(prefix) else "/" + path
    req = urls.HttpRequest(
        method=request.method,
        path=raw_path or "/",
        raw_query=request.query_string.decode("latin-1"),
        headers=list(request.headers.items()),
        body=request.get_data(cache=True),  # cached: an AWS_IAM URL hashes it again to verify the signature
        source_ip=request.remote_addr or "127.0.0.1",
        protocol=request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
    )
    from lamina.api.invoke import invoker_of

    deps = context.deps()
    answer = urls.serve(deps, invoker_of(current_app), url_id, req,
                        request_id=request_id(), authenticate=lambda: auth.verify_request(request, deps))
    resp = Response(answer.body, status=answer.status)
    del resp.headers["Content-Type"]
    for name, value in answer.headers:
        resp.headers.add(name, value)
    return resp


# -- wire shapes


def url_config(rec: UrlRecord, with_modified: bool = True) -> dict[str, Any]:
    return without_none({
        "FunctionUrl": rec.function_url,
        "FunctionArn": rec.function_arn,
        "AuthType": rec.auth_type,
        "Cors": rec.cors,
        "CreationTime": time_str(rec.creation_time),
        "LastModifiedTime": time_str(rec.last_modified) if with_modified else None,
        "InvokeMode": rec.invoke_mode,
    })
