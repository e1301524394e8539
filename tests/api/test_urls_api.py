"""Function URLs: the configuration API (boto3 and raw paths) and real requests mapped to payload format 2.0
and back (binary bodies, query strings, headers, cookies, bare values, errors, CORS)."""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any

import pytest
from lamina.services.triggers import urls
from support import triggers
from support.auth import sigv4_headers

# Fixtures for real functions (tests/api has no Docker conftest of its own).
docker_client, runtime_images, invoker, fns = triggers.docker_client, triggers.runtime_images, triggers.invoker, \
    triggers.fns

APP = """
import base64, json

def echo(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}

def shaped(event, context):
    q = event.get("queryStringParameters") or {}
    kind = q.get("kind")
    if kind == "binary":
        return {"statusCode": 201, "headers": {"content-type": "image/png", "x-one": "1"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True,
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"]}
    if kind == "bare":
        return {"hello": "world"}
    if kind == "string":
        return "just text"
    if kind == "number":
        return 42
    if kind == "error":
        raise RuntimeError("nope")
    if kind == "cors":
        return {"statusCode": 200, "body": "ok", "headers": {"access-control-allow-origin": "https://evil"}}
    return {"statusCode": 204}
"""


def _create_url(client: Any, name: str, **body: Any) -> dict[str, Any]:
    qualifier = body.pop("Qualifier", None)
    path = f"/2021-10-31/functions/{name}/url" + (f"?Qualifier={qualifier}" if qualifier else "")
    resp = client.post(path, json={"AuthType": "NONE", **body})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def _path(url: str) -> str:
    return url[url.index("/lamina-url/"):]


def test_url_config_crud_with_boto3(lambda_client: Any, client: Any, components: Any) -> None:
    from support.functions import Functions

    Functions(client, components, None).create("url-crud", {"app.py": APP}, handler="app.echo")
    created = lambda_client.create_function_url_config(
        FunctionName="url-crud", AuthType="NONE",
        Cors={"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 60},
    )
    assert created["FunctionUrl"].startswith(components.settings.base_url + "/lamina-url/")
    assert created["FunctionUrl"].endswith("/")
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:url-crud"
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert created["Cors"]["AllowOrigins"] == ["https://example.com"]
    got = lambda_client.get_function_url_config(FunctionName="url-crud")
    assert got["FunctionUrl"] == created["FunctionUrl"] and "LastModifiedTime" in got
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_function_url_config(FunctionName="url-crud", AuthType="NONE")
    updated = lambda_client.update_function_url_config(FunctionName="url-crud", AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["FunctionUrl"] == created["FunctionUrl"]
    listed = lambda_client.list_function_url_configs(FunctionName="url-crud")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]
    lambda_client.delete_function_url_config(FunctionName="url-crud")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_url_config(FunctionName="url-crud")
    with pytest.raises(lambda_client.exceptions.ClientError) as bad:
        lambda_client.create_function_url_config(FunctionName="url-crud", AuthType="MAYBE")
    assert bad.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_unknown_url_is_404(client: Any, components: Any) -> None:
    resp = client.get("/lamina-url/0123456789abcdef0123456789abcdef/x")
    assert resp.status_code == 404


@pytest.mark.docker
def test_request_becomes_a_format_2_event(client: Any, fns: Any, live_server: Any) -> None:
    fns.create("url-echo", {"app.py": APP}, handler="app.echo")
    url = _create_url(client, "url-echo")
    path = _path(url["FunctionUrl"])
    conn = http.client.HTTPConnection(live_server.url.split("//")[1], timeout=30)
    conn.request("POST", path + "some/where?a=1&b=two&a=3&empty=", body=b'{"x": 1}',
                 headers={"Content-Type": "application/json", "X-Custom": "v", "Cookie": "c1=v1; c2=v2",
                          "User-Agent": "tester/1"})
    raw = conn.getresponse()
    assert raw.status == 200
    event = json.loads(raw.read())
    conn.close()
    url_id = url["FunctionUrl"].rstrip("/").rsplit("/", 1)[1]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/where"
    assert event["rawQueryString"] == "a=1&b=two&a=3&empty="
    assert event["queryStringParameters"] == {"a": "1,3", "b": "two", "empty": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "v" and event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/some/where", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "tester/1"}
    assert ctx["apiId"] == url_id and ctx["domainPrefix"] == url_id
    assert ctx["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert ctx["accountId"] == "anonymous" and ctx["stage"] == "$default"
    assert ctx["requestId"] == raw.getheader("x-amzn-RequestId")
    assert isinstance(ctx["timeEpoch"], int)

    binary = bytes(range(256))
    resp = client.put(path, data=binary, headers={"Content-Type": "application/octet-stream"})
    event = resp.get_json()
    assert event["rawPath"] == "/" and event["rawQueryString"] == ""
    assert "queryStringParameters" not in event and "cookies" not in event
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == binary

    for method in ("GET", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        resp = client.open(path + "m", method=method)
        assert resp.status_code == 200, method
        if method != "HEAD":
            assert resp.get_json()["requestContext"]["http"]["method"] == method
            assert "body" not in resp.get_json()


@pytest.mark.docker
def test_function_answers_become_http_responses(client: Any, fns: Any) -> None:
    fns.create("url-shaped", {"app.py": APP}, handler="app.shaped")
    path = _path(_create_url(client, "url-shaped")["FunctionUrl"])
    resp = client.get(path + "?kind=binary")
    assert resp.status_code == 201
    assert resp.get_data() == bytes(range(256))
    assert resp.headers["Content-Type"] == "image/png" and resp.headers["x-one"] == "1"
    assert resp.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    resp = client.get(path + "?kind=bare")
    assert (resp.status_code, resp.headers["Content-Type"]) == (200, "application/json")
    assert resp.get_json() == {"hello": "world"}
    resp = client.get(path + "?kind=string")
    assert (resp.status_code, resp.get_data()) == (200, b"just text")
    assert client.get(path + "?kind=number").get_data() == b"42"
    resp = client.get(path + "?kind=error")
    assert resp.status_code == 502 and resp.get_json() == {"Message": "Internal Server Error"}
    resp = client.get(path)
    assert resp.status_code == 204 and resp.get_data() == b""


@pytest.mark.docker
def test_cors_preflight_and_response_headers(client: Any, fns: Any) -> None:
    fns.create("url-cors", {"app.py": APP}, handler="app.shaped")
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["x-token"], "ExposeHeaders": ["x-one"], "MaxAge": 300, "AllowCredentials": True}
    path = _path(_create_url(client, "url-cors", Cors=cors)["FunctionUrl"])
    pre = client.options(path, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200 and pre.get_data() == b""
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "x-token"
    assert pre.headers["Access-Control-Max-Age"] == "300"
    assert pre.headers["Access-Control-Allow-Credentials"] == "true"
    denied = client.options(path, headers={"Origin": "https://other", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in denied.headers
    resp = client.get(path + "?kind=cors", headers={"Origin": "https://app.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"  # not the function's own value
    assert resp.headers["Access-Control-Expose-Headers"] == "x-one"
    resp = client.get(path + "?kind=bare", headers={"Origin": "https://other"})
    assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.docker
def test_iam_url_refuses_unsigned_requests_and_alias_urls_run_the_alias(
    client: Any, fns: Any, credentials: Any,
) -> None:
    fns.create("url-alias", {"app.py": APP}, handler="app.echo")
    fns.publish_version("url-alias")
    fns.create_alias("url-alias", "live", "1")
    iam = _path(_create_url(client, "url-alias", AuthType="AWS_IAM", Qualifier="live")["FunctionUrl"])
    assert client.get(iam).status_code == 403  # the test client's bearer token is no SigV4 signature
    forged = client.get(iam, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, "
                                                        "Signature=00"})
    assert forged.status_code == 403
    signed = client.get(iam, headers=sigv4_headers(credentials, "GET", f"http://localhost{iam}"))
    assert signed.status_code == 200
    assert signed.get_json()["requestContext"]["accountId"] == "000000000000"
    got = client.get("/2021-10-31/functions/url-alias/url?Qualifier=live").get_json()
    assert got["FunctionArn"].endswith(":function:url-alias:live")
    assert client.get("/2021-10-31/functions/url-alias/url").status_code == 404
    assert client.post("/2021-10-31/functions/url-alias/url?Qualifier=1",
                       json={"AuthType": "NONE"}).status_code == 400


def test_response_mapping_rules_without_containers() -> None:
    from lamina.services.invoke.requests import InvocationResult

    r = urls.to_response(InvocationResult(200, json.dumps({"statusCode": "404", "body": {"a": 1}}).encode()))
    assert (r.status, r.body) == (404, b'{"a": 1}')
    assert ("Content-Type", "application/json") in r.headers
    r = urls.to_response(InvocationResult(200, b"not json"))
    assert (r.status, r.body) == (200, b"not json")
    r = urls.to_response(InvocationResult(200, b'{"statusCode": 200, "multiValueHeaders": {"x": ["1", "2"]}}'))
    assert [v for k, v in r.headers if k == "x"] == ["1", "2"]


def test_openapi_documents_every_trigger_route(app: Any, client: Any) -> None:
    import re

    doc = client.get("/openapi.json").get_json()
    documented = {(m.upper(), re.sub(r"{\w+}", "{}", p)) for p, item in doc["paths"].items() for m in item}
    mine = {"schedules", "queues", "streams", "volumes", "aws_json", "event_sources", "invoke_async",
            "urls.create_function_url_config", "urls.get_function_url_config", "urls.update_function_url_config",
            "urls.delete_function_url_config", "urls.list_function_url_configs"}
    served = {
        (method, re.sub(r"<(?:\w+:)?\w+>", "{}", rule.rule).rstrip("/") or "/")
        for rule in app.url_map.iter_rules()
        if rule.endpoint in mine or rule.endpoint.split(".")[0] in mine
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served and served <= documented, served - documented
