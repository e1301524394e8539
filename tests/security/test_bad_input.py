"""Hostile requests get clear Lambda errors, never a 500: bad JSON, traversal in names, huge headers."""

from __future__ import annotations

import http.client
from typing import Any

from support.lambda_api import assert_error

FUNCTIONS = "/2015-03-31/functions"


def test_bad_json_and_wrong_shapes(client: Any) -> None:
    for body in (b"{", b"[]", b"null", b'{"FunctionName": 5}', b"\xff\xfe", b'{"a":' * 2000):
        resp = client.post(FUNCTIONS, data=body, content_type="application/json")
        assert 400 <= resp.status_code < 500, (body[:20], resp.status_code)
        assert resp.headers["X-Amzn-ErrorType"]


def test_path_traversal_in_names_is_refused(client: Any) -> None:
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2E%2E", "a%00b", "x" * 200, "arn%3Aaws%3Alambda%3A..%2F"):
        resp = client.get(f"{FUNCTIONS}/{name}")
        assert resp.status_code in (400, 404), (name, resp.status_code)
        assert resp.headers["X-Amzn-ErrorType"] in ("InvalidParameterValueException", "ResourceNotFoundException")
    assert_error(client.get("/lamina/code/..%2F..%2Fmaster.key"), 404, "ResourceNotFoundException")


def test_huge_headers_do_not_crash_the_server(live_server: Any, credentials: Any) -> None:
    host = live_server.url.split("//")[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("GET", FUNCTIONS, headers={"X-Junk": "j" * 200_000,
                                            "Authorization": f"Bearer {credentials.access_key_id}:x"})
    status = conn.getresponse().status
    assert status < 500 or status == 431
    conn.close()
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200


def test_deeply_nested_json_everywhere_is_a_client_error(client: Any) -> None:
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    resp = client.post(f"{FUNCTIONS}/nothere/invocations", data=nested)
    assert_error(resp, 400, "InvalidRequestContentException")
    import base64

    ctx = base64.b64encode(nested).decode()
    resp = client.post(f"{FUNCTIONS}/nothere/invocations", data=b"{}", headers={"X-Amz-Client-Context": ctx})
    assert 400 <= resp.status_code < 500
    resp = client.post("/", data=nested, headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                                   "Content-Type": "application/x-amz-json-1.1"})
    assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)[:200]
