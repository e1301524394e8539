"""Execution roles cover lamina's queues too: queue operations are authorized as SQS actions
(sqs:SendMessage, sqs:ReceiveMessage, ...) on the queue's ARN, so a role may send to one queue only."""

from __future__ import annotations

import json
from typing import Any

from lamina.services.iam import sessions
from lamina.services.queues import queues
from support.auth import sigv4_headers

BASE = "/lamina/v1/queues"


def _call(client: Any, creds: Any, method: str, path: str, doc: Any = None) -> Any:
    body = json.dumps(doc).encode() if doc is not None else b""
    headers = sigv4_headers(creds, method, f"http://localhost{path}", body, token=creds.session_token)
    return client.open(path, method=method, data=body or None, headers=headers)


def test_a_role_that_may_send_to_one_queue_only(client: Any, components: Any) -> None:
    account = components.settings.account_id
    for name in ("orders", "payroll"):
        queues.create_queue(components, account, name)
    orders = queues.queue_arn(components.settings.region, account, "orders")
    creds = sessions.create(components, account, "sender",
                            [{"Action": ["sqs:SendMessage"], "Resource": [orders]}], ttl_s=60)
    sent = _call(client, creds, "POST", f"{BASE}/orders/messages", {"MessageBody": "one order"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    denied = _call(client, creds, "POST", f"{BASE}/payroll/messages", {"MessageBody": "a raise"})
    assert denied.status_code == 403 and denied.headers["X-Amzn-ErrorType"] == "AccessDeniedException"
    assert "sqs:SendMessage" in denied.get_json()["Message"] and ":payroll" in denied.get_json()["Message"]
    read = _call(client, creds, "POST", f"{BASE}/orders/receive", {"MaxNumberOfMessages": 1})
    assert read.status_code == 403  # sending is not reading
    assert _call(client, creds, "GET", "/2015-03-31/functions").status_code == 403  # nor a Lambda action
    assert queues.get_queue(components, account, "orders").visible == 1
    assert queues.get_queue(components, account, "payroll").visible == 0


def test_a_role_with_sqs_wildcards(client: Any, components: Any) -> None:
    account = components.settings.account_id
    queues.create_queue(components, account, "work")
    creds = sessions.create(components, account, "worker",
                            [{"Action": ["sqs:*"], "Resource": [f"arn:aws:sqs:*:{account}:*"]}], ttl_s=60)
    assert _call(client, creds, "POST", f"{BASE}/work/messages", {"MessageBody": "x"}).status_code == 200
    got = _call(client, creds, "POST", f"{BASE}/work/receive", {"MaxNumberOfMessages": 1})
    assert got.status_code == 200 and got.get_json()["Messages"][0]["Body"] == "x"
    assert _call(client, creds, "GET", BASE).status_code == 200
