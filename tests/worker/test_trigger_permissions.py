"""Triggers check their permission when they fire (issue 5, item 3): creating one adds the resource-policy
statement it needs, as the Lambda console does; removing that statement stops it. Function URLs of
AuthType AWS_IAM verify the caller's SigV4 signature and authorize the caller."""

from __future__ import annotations

import json
import time
from typing import Any

from lamina.services.iam import iam
from lamina.services.queues import messages, queues
from lamina.services.triggers import event_sources, schedules
from lamina.worker import schedules as worker_schedules
from support.auth import sigv4_headers

APP = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n"


def _policy(client: Any, fn: str) -> dict[str, dict[str, Any]]:
    resp = client.get(f"/2015-03-31/functions/{fn}/policy")
    if resp.status_code == 404:
        return {}
    return {st["Sid"]: st for st in json.loads(resp.get_json()["Policy"])["Statement"]}


def _remove(client: Any, fn: str, sid: str) -> None:
    assert client.delete(f"/2015-03-31/functions/{fn}/policy/{sid}").status_code == 204


def test_a_schedule_fires_only_while_its_statement_is_there(client: Any, fns: Any, components: Any,
                                                            fast: Any) -> None:
    fns.create("ticked", {"app.py": APP})
    resp = client.post("/lamina/v1/schedules", json={"Name": "every", "FunctionName": "ticked",
                                                     "ScheduleExpression": "rate(1 minute)"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    st = _policy(client, "ticked")["lamina-schedule-every"]
    assert st["Principal"] == {"Service": "events.lamina"} and st["Action"] == "lambda:InvokeFunction"
    assert st["Condition"]["ArnLike"]["AWS:SourceArn"] == schedules.rule_arn("us-east-1", "000000000000", "every")
    with components.sessions() as s:
        [(row, _)] = schedules.store.list_schedules(s)
        t0 = row.created.timestamp()
    assert len(worker_schedules.run_due(components, t0 + 60.1)) == 1
    _remove(client, "ticked", "lamina-schedule-every")
    assert worker_schedules.run_due(components, t0 + 120.1) == []  # denied: skipped, and only once
    assert components.redis.get(schedules.marker(row.id, t0 + 120)) == b"denied"
    # Granted again (by hand this time): it fires again.
    assert client.post("/2015-03-31/functions/ticked/policy", json={
        "StatementId": "again", "Action": "lambda:InvokeFunction", "Principal": "events.lamina",
        "SourceArn": "arn:aws:events:us-east-1:000000000000:rule/*"}).status_code == 201
    assert len(worker_schedules.run_due(components, t0 + 180.1)) == 1
    assert client.delete("/lamina/v1/schedules/every").status_code in (200, 204)


def test_a_queue_mapping_delivers_only_while_its_statement_is_there(client: Any, fns: Any, components: Any,
                                                                    runtime: Any) -> None:
    fns.create("fed", {"app.py": APP})
    queues.create_queue(components, "000000000000", "feed", visibility_timeout_s=1)
    arn = queues.queue_arn("us-east-1", "000000000000", "feed")
    resp = client.post("/2015-03-31/event-source-mappings", json={"FunctionName": "fed", "EventSourceArn": arn})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    mapping = event_sources.get(components, "000000000000", resp.get_json()["UUID"])
    sid = f"lamina-esm-{mapping.uuid}"
    assert _policy(client, "fed")[sid]["Principal"] == {"Service": "sqs.lamina"}
    _remove(client, "fed", sid)
    messages.send_messages(components, "000000000000", "feed", ["one"])
    denied = event_sources.poll(components, runtime.invoker, mapping)
    assert (denied.received, denied.deleted, denied.outcome) == (1, 0, "denied")
    assert client.post("/2015-03-31/functions/fed/policy", json={
        "StatementId": "queue", "Action": "lambda:InvokeFunction", "Principal": "sqs.lamina",
        "SourceArn": arn}).status_code == 201
    time.sleep(1.1)  # the message comes back after its visibility timeout: nothing was lost
    done = event_sources.poll(components, runtime.invoker, mapping)
    assert (done.received, done.deleted, done.outcome) == (1, 1, "success")
    assert client.delete(f"/2015-03-31/event-source-mappings/{mapping.uuid}").status_code == 202
    assert "queue" in _policy(client, "fed")


def _url(client: Any, fn: str, auth_type: str) -> str:
    resp = client.post(f"/2021-10-31/functions/{fn}/url", json={"AuthType": auth_type})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    url = resp.get_json()["FunctionUrl"]
    return url[url.index("/lamina-url/"):]


def test_a_public_url_answers_only_while_its_statement_is_there(client: Any, fns: Any) -> None:
    fns.create("public", {"app.py": APP})
    path = _url(client, "public", "NONE")
    st = _policy(client, "public")["FunctionURLAllowPublicAccess"]
    assert st["Principal"] == "*" and st["Action"] == "lambda:InvokeFunctionUrl"
    assert st["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert client.get(path).status_code == 200
    _remove(client, "public", "FunctionURLAllowPublicAccess")
    refused = client.get(path)
    assert refused.status_code == 403 and refused.get_json() == {"Message": "Forbidden"}


def test_an_iam_url_verifies_the_signature_and_authorizes_the_caller(
    client: Any, fns: Any, components: Any, credentials: Any,
) -> None:
    fns.create("private", {"app.py": APP})
    path = _url(client, "private", "AWS_IAM")
    url = f"http://localhost{path}"
    assert client.get(path, headers=sigv4_headers(credentials, "GET", url)).status_code == 200
    body = b'{"x": 1}'
    assert client.post(path, data=body, headers=sigv4_headers(credentials, "POST", url, body)).status_code == 200
    wrong = client.get(path, headers=sigv4_headers(credentials, "GET", url, secret="not-the-secret"))
    assert wrong.status_code == 403 and wrong.get_json() == {"Message": "Forbidden"}
    tampered = client.post(path, data=b'{"x": 2}', headers=sigv4_headers(credentials, "POST", url, body))
    assert tampered.status_code == 403
    wrong_service = client.get(path, headers=sigv4_headers(credentials, "GET", url, service="s3"))
    assert wrong_service.status_code == 403
    # Another account: refused until the function's policy grants it lambda:InvokeFunctionUrl.
    other = iam.create_account(components, "others", "222222222222")
    iam.create_user(components, other, "eve")
    theirs = iam.create_key(components, other, "eve")
    assert client.get(path, headers=sigv4_headers(theirs, "GET", url)).status_code == 403
    assert client.post("/2015-03-31/functions/private/policy", json={
        "StatementId": "partner", "Action": "lambda:InvokeFunctionUrl", "Principal": "222222222222",
        "FunctionUrlAuthType": "AWS_IAM"}).status_code == 201
    time.sleep(1.1)  # a new second: a new signature (the first one is remembered against replays)
    assert client.get(path, headers=sigv4_headers(theirs, "GET", url)).status_code == 200
