"""The SQS API through boto3's own sqs client: queues, attributes, messages with attributes and delays, long
polling, visibility, batches, dead-letter redrive, FIFO ordering and deduplication, tags, policies, and
SQS's own error codes. The same queues are lamina's queues (its REST API sees them)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def sqs(aws_client: Any) -> Any:
    return aws_client("sqs")


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_queue_lifecycle_attributes_and_lamina_api_see_the_same_queue(sqs: Any, client: Any) -> None:
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "5", "DelaySeconds": "0",
                                                           "MessageRetentionPeriod": "600"},
                           tags={"team": "a"})["QueueUrl"]
    assert url.endswith("/000000000000/orders")
    assert sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "5"})["QueueUrl"] == url
    with pytest.raises(ClientError) as err:
        sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "6"})
    assert _code(err) == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
    assert sqs.list_queues()["QueueUrls"] == [url]
    assert sqs.list_queues(QueueNamePrefix="nope").get("QueueUrls") is None
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:orders"
    assert (attrs["VisibilityTimeout"], attrs["MessageRetentionPeriod"], attrs["MaximumMessageSize"]) == \
        ("5", "600", "262144")
    assert "FifoQueue" not in attrs
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "2",
                                                        "MaximumMessageSize": "2048"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ReceiveMessageWaitTimeSeconds",
                                                                 "MaximumMessageSize"])["Attributes"]
    assert got == {"ReceiveMessageWaitTimeSeconds": "2", "MaximumMessageSize": "2048"}
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    # lamina's own queue API sees the same queue.
    mine = client.get("/lamina/v1/queues/orders").get_json()
    assert mine["QueueArn"] == attrs["QueueArn"] and mine["VisibilityTimeout"] == 5
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as err:
        sqs.get_queue_url(QueueName="orders")
    assert _code(err) == "AWS.SimpleQueueService.NonExistentQueue"
    assert isinstance(err.value, sqs.exceptions.QueueDoesNotExist)


def test_bad_attributes_and_names_are_refused_with_sqs_codes(sqs: Any) -> None:
    cases = [
        ({"QueueName": "bad name"}, "InvalidParameterValue"),
        ({"QueueName": "q", "Attributes": {"VisibilityTimeout": "43201"}}, "InvalidAttributeValue"),
        ({"QueueName": "q", "Attributes": {"DelaySeconds": "x"}}, "InvalidAttributeValue"),
        ({"QueueName": "q", "Attributes": {"KmsMasterKeyId": "alias/aws/sqs"}}, "InvalidAttributeName"),
        ({"QueueName": "q", "Attributes": {"Bogus": "1"}}, "InvalidAttributeName"),
        ({"QueueName": "q", "Attributes": {"ContentBasedDeduplication": "true"}}, "InvalidAttributeName"),
        ({"QueueName": "q.fifo"}, "InvalidParameterValue"),
        ({"QueueName": "q", "Attributes": {"FifoQueue": "true"}}, "InvalidParameterValue"),
        ({"QueueName": "q", "Attributes": {"RedrivePolicy": "{\"maxReceiveCount\": 2}"}}, "InvalidAttributeValue"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as err:
            sqs.create_queue(**kwargs)
        assert _code(err) == code, kwargs
    assert sqs.list_queues().get("QueueUrls") is None
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl="http://x/000000000000/missing", MessageBody="x")
    assert _code(err) == "AWS.SimpleQueueService.NonExistentQueue"


def test_messages_with_attributes_delays_visibility_and_long_polling(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    attrs = {"kind": {"DataType": "String", "StringValue": "order"},
             "n": {"DataType": "Number", "StringValue": "42"},
             "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()  # noqa: S324
    assert len(sent["MD5OfMessageAttributes"]) == 32
    [msg] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert msg["Body"] == "hello" and msg["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\x01"
    assert msg["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in msg["Attributes"]
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # in flight
    time.sleep(1.2)
    [again] = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    # The first handle no longer changes its visibility; the current one does.
    with pytest.raises(ClientError) as err:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    assert _code(err) == "ReceiptHandleIsInvalid"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    [third] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    with pytest.raises(ClientError) as err:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert _code(err) == "ReceiptHandleIsInvalid"
    # A delayed message is counted as delayed and arrives after its delay.
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1" and counts["ApproximateNumberOfMessages"] == "0"
    started = time.monotonic()
    [late] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert late["Body"] == "later" and 0.5 < time.monotonic() - started < 3
    # Long polling returns as soon as a message is sent.
    threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="wake")).start()
    started = time.monotonic()
    [woke] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    assert woke["Body"] == "wake" and time.monotonic() - started < 2
    for m in (late, woke):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    assert time.monotonic() - started >= 0.9
    for bad in ({"MaxNumberOfMessages": 11}, {"WaitTimeSeconds": 21}, {"AttributeNames": ["Nope"]}):
        with pytest.raises(ClientError) as err:
            sqs.receive_message(QueueUrl=url, **bad)
        assert _code(err) in ("InvalidParameterValue", "InvalidAttributeName"), bad
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (256 * 1024 + 1))
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={"n": {"DataType": "Number",
                                                                                 "StringValue": "abc"}})
    assert _code(err) == "InvalidParameterValue"


def test_batches_report_each_entry_and_refuse_bad_batches(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="batch", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    out = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "x" * 2000},
        {"Id": "c", "MessageBody": "three", "DelaySeconds": 0}])
    assert sorted(s["Id"] for s in out["Successful"]) == ["a", "c"]
    assert [(f["Id"], f["SenderFault"]) for f in out["Failed"]] == [("b", True)]
    for entries, code in (
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        ([{"Id": str(i), "MessageBody": "x"} for i in range(11)],
         "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}],
         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ):
        with pytest.raises(ClientError) as err:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert _code(err) == code
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "three"]
    vis = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "y", "ReceiptHandle": "junk", "VisibilityTimeout": 0}])
    assert [s["Id"] for s in vis["Successful"]] == ["x"]
    assert vis["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(again + got[1:])])
    assert len(deleted["Successful"]) == 2 and deleted["Failed"] == []
    sqs.send_message(QueueUrl=url, MessageBody="gone soon")
    sqs.purge_queue(QueueUrl=url)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                                    )["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_redrive_to_a_dead_letter_queue_after_max_receive_count(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="live", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]
                                                 )["Attributes"]["RedrivePolicy"])
    assert policy == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "poison"
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    [dead] = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert dead["Body"] == "poison" and dead["Attributes"]["DeadLetterQueueSourceArn"].endswith(":live")


def test_fifo_keeps_group_order_one_batch_in_flight_and_deduplicates(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
                           )["QueueUrl"]
    seqs = []
    for i in range(3):
        for group in ("a", "b"):
            out = sqs.send_message(QueueUrl=url, MessageBody=f"{group}{i}", MessageGroupId=group,
                                   MessageDeduplicationId=f"{group}-{i}")
            seqs.append(int(out["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 6
    dup = sqs.send_message(QueueUrl=url, MessageBody="a0 again", MessageGroupId="a", MessageDeduplicationId="a-0")
    assert "MessageId" in dup
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "b0"]
    assert first[0]["Attributes"]["MessageGroupId"] == "a"
    # Both groups have a message in flight: nothing more until they are deleted.
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") is None
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in nxt] == ["a1", "a2"]  # group a in order; b still blocked
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"], VisibilityTimeout=0)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == \
        ["b0", "b1", "b2"]
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert _code(err) == "MissingParameter"
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                         DelaySeconds=2)
    assert _code(err) == "InvalidParameterValue"
    cbd = sqs.create_queue(QueueName="cbd.fifo", Attributes={"FifoQueue": "true",
                                                             "ContentBasedDeduplication": "true"})["QueueUrl"]
    one = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
    two = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
    assert one["MessageId"] == two["MessageId"]
    assert sqs.get_queue_attributes(QueueUrl=cbd, AttributeNames=["ApproximateNumberOfMessages"]
                                    )["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_signatures_are_scoped_per_service(live_server: Any, credentials: Any) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(credentials.access_key_id, credentials.secret_access_key)
    body = json.dumps({"QueueNamePrefix": ""})
    import requests

    for service, status in (("sqs", 200), ("lambda", 403), ("logs", 403)):
        req = AWSRequest("POST", live_server.url + "/", data=body,
                         headers={"X-Amz-Target": "AmazonSQS.ListQueues",
                                  "Content-Type": "application/x-amz-json-1.0"})
        SigV4Auth(creds, service, "us-east-1").add_auth(req)
        resp = requests.post(live_server.url + "/", data=body, headers=dict(req.headers), timeout=10)
        assert resp.status_code == status, (service, resp.text)
        if status == 403:
            assert "should be scoped to correct service: 'sqs'" in resp.text
            assert resp.json()["__type"].endswith("InvalidSignatureException")


def test_another_account_reaches_a_queue_only_through_its_policy(sqs: Any, live_server: Any, components: Any) -> None:
    import boto3
    from lamina.services.iam import iam

    other = iam.ensure_account_user_key(components, "111111111111", "other", "outsider", admin=True)
    theirs = boto3.client("sqs", endpoint_url=live_server.url, region_name="us-east-1",
                          aws_access_key_id=other.access_key_id, aws_secret_access_key=other.secret_access_key)
    url = sqs.create_queue(QueueName="shared")["QueueUrl"]
    with pytest.raises(ClientError) as err:
        theirs.send_message(QueueUrl=url, MessageBody="not yet")
    assert _code(err) == "AccessDenied"
    with pytest.raises(ClientError) as err:
        theirs.get_queue_url(QueueName="shared", QueueOwnerAWSAccountId="000000000000")
    assert _code(err) == "AccessDenied"
    sqs.add_permission(QueueUrl=url, Label="let-other-send", AWSAccountIds=["111111111111"],
                       Actions=["SendMessage", "GetQueueUrl"])
    assert theirs.get_queue_url(QueueName="shared", QueueOwnerAWSAccountId="000000000000")["QueueUrl"] == url
    theirs.send_message(QueueUrl=url, MessageBody="from 111111111111")
    with pytest.raises(ClientError) as err:
        theirs.receive_message(QueueUrl=url)  # only SendMessage and GetQueueUrl were granted
    assert _code(err) == "AccessDenied"
    [msg] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert msg["Body"] == "from 111111111111"
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "let-other-send"
    sqs.remove_permission(QueueUrl=url, Label="let-other-send")
    with pytest.raises(ClientError) as err:
        theirs.send_message(QueueUrl=url, MessageBody="revoked")
    assert _code(err) == "AccessDenied"
    # Their own queue of the same name is theirs alone.
    mine = theirs.create_queue(QueueName="shared")["QueueUrl"]
    assert mine.endswith("/111111111111/shared") and mine != url
