"""A function abusing its own Runtime API (issue 12, part of the attack suite): malformed request lines,
an oversized header, an oversized body, another request id's response, connections held open. The agent
answers each with an error and keeps serving; the invocation ends normally and the platform goes on."""

from __future__ import annotations

from typing import Any

from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

APP = r'''
import os, socket

def _raw(payload, read=True):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(payload)
        if not read:
            return s
        data = s.recv(200)
        return data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    except OSError as err:
        return type(err).__name__
    finally:
        if read:
            s.close()

def handler(event, context):
    if event.get("warm"):
        return "warm"
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    out = {
        "garbage": _raw(b"\x00\xff NOT HTTP\r\n\r\n"),
        "huge_header": _raw(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nX: " + b"a" * (2 << 20)
                            + b"\r\n\r\n"),
        "huge_body": _raw(b"POST /2018-06-01/runtime/invocation/someone-else/response HTTP/1.1\r\n"
                          b"Content-Length: 7340032\r\n\r\n" + b"x" * 7340032),
        "other_id": _raw(b"POST /2018-06-01/runtime/invocation/not-this-one/response HTTP/1.1\r\n"
                         b"Content-Length: 2\r\n\r\n{}"),
        "bad_path": _raw(b"GET /../../etc/passwd HTTP/1.1\r\n\r\n"),
    }
    held = [_raw(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n", read=False) for _ in range(50)]
    out["held"] = len(held)
    return out
'''


def test_runtime_api_abuse_is_refused_and_the_platform_goes_on(client: Any, fns: Functions, sandbox: str,
                                                              neighbour: Neighbour) -> None:
    fns.create("api-abuser", {"app.py": APP}, handler="app.handler", memory=512, timeout=20, isolation=sandbox)
    resp = neighbour.attack(lambda: invoke(client, "api-abuser", {}),
                            warm=lambda: invoke(client, "api-abuser", {"warm": 1}), repeat=2)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    if "X-Amz-Function-Error" not in resp.headers:
        out = resp.get_json()
        for case in ("garbage", "huge_header", "huge_body", "other_id", "bad_path"):
            status = out[case]
            assert status.startswith("HTTP/1.1 4"), (case, out)  # 400, 404, 431: refused, in the API's own shape
    else:  # the environment ended: with Lambda's error shape
        assert resp.get_json()["errorType"].startswith("Runtime."), resp.get_data(as_text=True)
    # The platform keeps serving: the function (on this environment or a new one) and a neighbour answer.
    fns.create("bystander", {"app.py": "def handler(e, c):\n    return 'fine'\n"})
    assert invoke(client, "bystander", {}).get_json() == "fine"
    assert invoke(client, "api-abuser", {}).status_code == 200
