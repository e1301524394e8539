"""Lamina queues through lamina's API: create, send one or a batch, receive, visibility timeout, delete,
dead-letter moves after MaxReceiveCount, purge."""

from __future__ import annotations

import time
from typing import Any

from lamina.services.queues import messages

BASE = "/lamina/v1/queues"


def test_queue_lifecycle(client: Any, components: Any) -> None:
    made = client.post(BASE, json={"QueueName": "jobs", "VisibilityTimeout": 1}).get_json()
    assert made["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:jobs"
    assert made["VisibilityTimeout"] == 1 and made["ApproximateNumberOfMessages"] == 0
    assert client.post(BASE, json={"QueueName": "jobs", "VisibilityTimeout": 1}).status_code == 201  # idempotent
    assert client.post(BASE, json={"QueueName": "jobs", "VisibilityTimeout": 5}).status_code == 409
    assert client.post(BASE, json={"QueueName": "bad name!"}).status_code == 400
    one = client.post(f"{BASE}/jobs/messages", json={"MessageBody": "hello"}).get_json()
    assert one["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    batch = client.post(f"{BASE}/jobs/messages", json={"Entries": [
        {"Id": "a", "MessageBody": "m1"}, {"Id": "b", "MessageBody": "m2"}]}).get_json()
    assert [s["Id"] for s in batch["Successful"]] == ["a", "b"] and batch["Failed"] == []
    assert client.get(f"{BASE}/jobs").get_json()["ApproximateNumberOfMessages"] == 3
    got = client.post(f"{BASE}/jobs/receive", json={"MaxNumberOfMessages": 10}).get_json()["Messages"]
    assert sorted(m["Body"] for m in got) == ["hello", "m1", "m2"]
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in got)
    info = client.get(f"{BASE}/jobs").get_json()
    assert (info["ApproximateNumberOfMessages"], info["ApproximateNumberOfMessagesNotVisible"]) == (0, 3)
    assert client.post(f"{BASE}/jobs/receive", json={"MaxNumberOfMessages": 10}).get_json()["Messages"] == []
    hello = next(m for m in got if m["Body"] == "hello")
    assert client.post(f"{BASE}/jobs/delete-message", json={"ReceiptHandle": hello["ReceiptHandle"]}
                       ).status_code == 204
    time.sleep(1.1)  # the visibility timeout runs out: the other two come back
    again = client.post(f"{BASE}/jobs/receive", json={"MaxNumberOfMessages": 10}).get_json()["Messages"]
    assert sorted(m["Body"] for m in again) == ["m1", "m2"]
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "2" for m in again)
    # The first receipt handle of a message received again no longer deletes it.
    stale = next(m for m in got if m["Body"] == "m1")
    assert client.post(f"{BASE}/jobs/delete-message", json={"ReceiptHandle": stale["ReceiptHandle"]}
                       ).status_code == 400
    assert client.post(f"{BASE}/jobs/purge").status_code == 204
    assert client.get(f"{BASE}/jobs").get_json()["ApproximateNumberOfMessagesNotVisible"] == 0
    assert [q["QueueName"] for q in client.get(BASE).get_json()["Queues"]] == ["jobs"]
    assert client.delete(f"{BASE}/jobs").status_code == 204
    assert client.get(f"{BASE}/jobs").status_code == 404
    assert client.post(f"{BASE}/jobs/messages", json={"MessageBody": "x"}).status_code == 404


def test_messages_move_to_the_dead_letter_queue_after_max_receive_count(client: Any, components: Any) -> None:
    client.post(BASE, json={"QueueName": "dlq"})
    made = client.post(BASE, json={"QueueName": "work", "VisibilityTimeout": 0, "MaxReceiveCount": 2,
                                   "DeadLetterQueue": "dlq"}).get_json()
    assert made["DeadLetterQueueArn"] == "arn:aws:sqs:us-east-1:000000000000:dlq" and made["MaxReceiveCount"] == 2
    client.post(f"{BASE}/work/messages", json={"MessageBody": "poison"})
    acct = components.settings.account_id
    for count in (1, 2):
        [m] = messages.receive(components, acct, "work")
        assert m.receive_count == count
    assert messages.receive(components, acct, "work") == []  # third receive: moved instead
    [dead] = messages.receive(components, acct, "dlq")
    assert dead.body == "poison"
    assert client.post(BASE, json={"QueueName": "x", "DeadLetterQueue": "missing"}).status_code == 404


def test_batch_limits(client: Any, components: Any) -> None:
    client.post(BASE, json={"QueueName": "lim"})
    resp = client.post(f"{BASE}/lim/messages", json={"Entries": [{"MessageBody": str(i)} for i in range(11)]})
    assert resp.status_code == 400
    assert client.post(f"{BASE}/lim/messages", json={"MessageBody": ""}).status_code == 400
    assert client.post(f"{BASE}/lim/messages", json={"MessageBody": "x" * (256 * 1024 + 1)}).status_code == 400
