"""SQS's older query protocol with a real old SDK: botocore 1.29 (which speaks only the query protocol for
SQS, as boto3 did before 1.31 and the JavaScript SDK v2 still does), installed in a venv of its own, against
the same queues as the JSON protocol."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

OLD_BOTOCORE = "botocore==1.29.165"
SCRIPT = r'''
import json, sys
import botocore.session
from botocore.exceptions import ClientError

endpoint, key, secret = sys.argv[1:4]
session = botocore.session.get_session()
assert session.get_service_model("sqs").protocol == "query"
sqs = session.create_client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key=secret)
out = {}
url = sqs.create_queue(QueueName="legacy", Attributes={"VisibilityTimeout": "7"}, tags={"team": "old"})["QueueUrl"]
out["url"] = url
out["attrs"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "QueueArn"])["Attributes"]
sent = sqs.send_message(QueueUrl=url, MessageBody="from 2023",
                        MessageAttributes={"n": {"DataType": "Number", "StringValue": "7"}})
out["sent_md5"] = sent["MD5OfMessageBody"]
batch = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "b1"},
                                                      {"Id": "b", "MessageBody": "b2", "DelaySeconds": 0}])
out["batch_ids"] = sorted(e["Id"] for e in batch["Successful"])
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                          MessageAttributeNames=["All"])["Messages"]
out["bodies"] = sorted(m["Body"] for m in got)
first = next(m for m in got if m["Body"] == "from 2023")
out["attribute"] = first["MessageAttributes"]["n"]
out["receive_count"] = first["Attributes"]["ApproximateReceiveCount"]
deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                         for i, m in enumerate(got)])
out["deleted"] = len(deleted["Successful"])
out["queues"] = sqs.list_queues()["QueueUrls"]
out["tags"] = sqs.list_queue_tags(QueueUrl=url)["Tags"]
try:
    sqs.get_queue_url(QueueName="missing")
except ClientError as err:
    out["missing"] = err.response["Error"]["Code"]
try:
    sqs.send_message(QueueUrl=url, MessageBody="x" * (256 * 1024 + 1))
except ClientError as err:
    out["too_big"] = err.response["Error"]["Code"]
print(json.dumps(out))
'''


@pytest.fixture(scope="session")
def old_botocore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the old botocore (from PyPI, cached between runs)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lamina" / "botocore-1.29"
    python = cache / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(cache)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", OLD_BOTOCORE], check=True, timeout=300)
    return python


def test_an_sdk_of_the_query_protocol_works_unchanged(old_botocore: Path, live_server: Any, credentials: Any,
                                                      aws_client: Any) -> None:
    done = subprocess.run([str(old_botocore), "-c", SCRIPT, live_server.url, credentials.access_key_id,
                           credentials.secret_access_key], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["url"].endswith("/000000000000/legacy")
    assert out["attrs"] == {"VisibilityTimeout": "7", "QueueArn": "arn:aws:sqs:us-east-1:000000000000:legacy"}
    assert out["sent_md5"] == hashlib.md5(b"from 2023").hexdigest()  # noqa: S324
    assert out["batch_ids"] == ["a", "b"]
    assert out["bodies"] == ["b1", "b2", "from 2023"]
    assert out["attribute"] == {"StringValue": "7", "DataType": "Number"}
    assert out["receive_count"] == "1" and out["deleted"] == 3
    assert out["queues"] == [out["url"]] and out["tags"] == {"team": "old"}
    assert out["missing"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert out["too_big"] == "InvalidParameterValue"
    # The same queue through today's JSON protocol.
    sqs = aws_client("sqs")
    assert sqs.get_queue_attributes(QueueUrl=out["url"], AttributeNames=["VisibilityTimeout"]
                                    )["Attributes"]["VisibilityTimeout"] == "7"
