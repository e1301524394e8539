"""Replicated before acknowledged (lamina.api.durability): when Redis replicas do not confirm a request's
writes, each protocol refuses it in its own shape with a 5xx, which AWS's clients retry; nothing is
acknowledged that a failover could take back. The Redis here has no replica, so once a test asks for one,
no write is ever confirmed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.functions import make_zip


def _require_a_replica(components: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    strict = dataclasses.replace(components.settings, redis_min_replicas=1, redis_wait_ms=20)
    monkeypatch.setattr(components, "settings", strict)


def test_sqs_and_kinesis_refuse_an_unconfirmed_write_in_their_own_shape(components: Any, aws_client: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sqs, kinesis = aws_client("sqs"), aws_client("kinesis")
    url = sqs.create_queue(QueueName="unconfirmed")["QueueUrl"]
    kinesis.create_stream(StreamName="unconfirmed", ShardCount=1)
    _require_a_replica(components, monkeypatch)
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="maybe lost")
    assert err.value.response["Error"]["Code"] == "InternalError"  # SQS's own, with its query error header
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as err:
        kinesis.put_record(StreamName="unconfirmed", Data=b"maybe lost", PartitionKey="k")
    assert err.value.response["Error"]["Code"] == "InternalFailureException"  # Kinesis's own
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # Reads are not writes: they answer as ever.
    assert sqs.get_queue_url(QueueName="unconfirmed")["QueueUrl"] == url


def test_lambda_refuses_an_unconfirmed_write_with_a_service_exception(components: Any, lambda_client: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    lambda_client.create_function(FunctionName="unconfirmed", Runtime="python3.11", Handler="app.handler",
                                  Role="arn:aws:iam::000000000000:role/lambda",
                                  Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return 1\n"})})
    _require_a_replica(components, monkeypatch)
    with pytest.raises(ClientError) as err:
        lambda_client.invoke(FunctionName="unconfirmed", InvocationType="Event", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ServiceException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as err:  # a refused request keeps its own error: nothing was written
        lambda_client.invoke(FunctionName="missing", InvocationType="Event", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
