"""Helpers for control-plane tests: zips made in the test, request bodies, and Lambda error assertions."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Mapping
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/lamina-test"
ACCOUNT = "000000000000"
REGION = "us-east-1"
HANDLER_CODE = "def handler(event, context):\n    return event\n"


def fn_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def make_zip(files: Mapping[str, str | bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in (files or {"app.py": HANDLER_CODE}).items():
            zf.writestr(name, content)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def create_body(name: str, zipped: bytes | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Code": {"ZipFile": b64(zipped if zipped is not None else make_zip())},
    }
    body.update(extra)
    return body


def create(client: Any, name: str, zipped: bytes | None = None, **extra: Any) -> dict[str, Any]:
    resp = client.post("/2015-03-31/functions", json=create_body(name, zipped, **extra))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def publish_layer(client: Any, name: str, files: Mapping[str, str | bytes] | None = None, **extra: Any) -> dict:
    body = {"Content": {"ZipFile": b64(make_zip(files or {"python/lib.py": "X = 1\n"}))}, **extra}
    resp = client.post(f"/2018-10-31/layers/{name}/versions", json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def assert_error(resp: Any, status: int, error_type: str, message_part: str | None = None) -> dict[str, Any]:
    """Assert a Lambda error reply: status, X-Amzn-ErrorType, and a JSON body with Type and Message."""
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text
    assert resp.headers.get("X-Amzn-ErrorType") == error_type, text
    body = resp.get_json()
    assert body["Type"] in ("User", "Service")
    assert isinstance(body["Message"], str) and body["Message"]
    if message_part is not None:
        assert message_part in body["Message"], body["Message"]
    return body
