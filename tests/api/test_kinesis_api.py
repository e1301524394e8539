"""The Kinesis Data Streams API through boto3's own kinesis client: streams, shards by the MD5 of the
partition key, sequence numbers increasing per shard, every iterator type, retention, tags, waiters and
paginators, and Kinesis's own error codes."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def kinesis(aws_client: Any) -> Any:
    return aws_client("kinesis")


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_streams_shards_and_records(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName="clicks", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    desc = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE" and desc["RetentionPeriodHours"] == 24
    assert desc["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"
    shards = desc["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(4)]
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[-1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in shards]
    assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(3))

    def expected_shard(key: str) -> str:
        point = int(hashlib.md5(key.encode()).hexdigest(), 16)  # noqa: S324
        return next(s["ShardId"] for s, (lo, hi) in zip(shards, ranges, strict=True) if lo <= point <= hi)

    puts = [kinesis.put_record(StreamName="clicks", Data=f"r{i}".encode(), PartitionKey=f"user-{i % 5}")
            for i in range(20)]
    for i, put in enumerate(puts):
        assert put["ShardId"] == expected_shard(f"user-{i % 5}")
    by_shard: dict[str, list[str]] = {}
    for put in puts:
        by_shard.setdefault(put["ShardId"], []).append(put["SequenceNumber"])
    assert all(seqs == sorted(seqs, key=int) for seqs in by_shard.values())
    batch = kinesis.put_records(StreamName="clicks", Records=[
        {"Data": b"b0", "PartitionKey": "k"}, {"Data": b"b1", "PartitionKey": "k", "ExplicitHashKey": "0"}])
    assert batch["FailedRecordCount"] == 0 and batch["Records"][1]["ShardId"] == "shardId-000000000000"

    # Every record of a shard, in order, from TRIM_HORIZON.
    got: list[str] = []
    for shard in shards:
        it = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = kinesis.get_records(ShardIterator=it, Limit=100)
        seqs = [r["SequenceNumber"] for r in out["Records"]]
        assert seqs == sorted(seqs, key=int)
        got += [r["Data"].decode() for r in out["Records"]]
        assert out["MillisBehindLatest"] == 0
        again = kinesis.get_records(ShardIterator=out["NextShardIterator"])
        assert again["Records"] == []
    assert sorted(got) == sorted([f"r{i}" for i in range(20)] + ["b0", "b1"])

    shard0 = puts[0]["ShardId"]
    seqs0 = by_shard[shard0]
    at = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard0, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=seqs0[1])["ShardIterator"]
    assert kinesis.get_records(ShardIterator=at)["Records"][0]["SequenceNumber"] == seqs0[1]
    after = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard0,
                                       ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=seqs0[1])["ShardIterator"]
    assert kinesis.get_records(ShardIterator=after)["Records"][0]["SequenceNumber"] == seqs0[2]
    latest = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard0,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=latest)["Records"] == []
    time.sleep(0.01)
    stamp = time.time()
    time.sleep(0.01)
    new = kinesis.put_record(StreamName="clicks", Data=b"new", PartitionKey="user-0")
    assert kinesis.get_records(ShardIterator=latest)["Records"][0]["SequenceNumber"] == new["SequenceNumber"]
    ts = kinesis.get_shard_iterator(StreamName="clicks", ShardId=new["ShardId"], ShardIteratorType="AT_TIMESTAMP",
                                    Timestamp=stamp)["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=ts)["Records"]] == [b"new"]

    summary = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    listed = [s["ShardId"] for p in kinesis.get_paginator("list_shards").paginate(
        StreamName="clicks", PaginationConfig={"PageSize": 3}) for s in p["Shards"]]
    assert listed == [s["ShardId"] for s in shards]
    assert kinesis.list_streams()["StreamNames"] == ["clicks"]
    kinesis.increase_stream_retention_period(StreamName="clicks", RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"][
        "RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as err:
        kinesis.increase_stream_retention_period(StreamName="clicks", RetentionPeriodHours=30)
    assert _code(err) == "InvalidArgumentException"
    kinesis.add_tags_to_stream(StreamName="clicks", Tags={"team": "a"})
    assert kinesis.list_tags_for_stream(StreamName="clicks")["Tags"] == [{"Key": "team", "Value": "a"}]
    kinesis.delete_stream(StreamName="clicks")
    with pytest.raises(ClientError) as err:
        kinesis.describe_stream(StreamName="clicks")
    assert _code(err) == "ResourceNotFoundException"


def test_bad_input_gets_kinesis_errors(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(StreamName="s", ShardCount=1)
    assert _code(err) == "ResourceInUseException"
    for kwargs, code in (
        ({"StreamName": "bad name", "ShardCount": 1}, "InvalidArgumentException"),
        ({"StreamName": "big", "ShardCount": 1000}, "LimitExceededException"),
        ({"StreamName": "od", "ShardCount": 2, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}},
         "InvalidArgumentException"),
    ):
        with pytest.raises(ClientError) as err:
            kinesis.create_stream(**kwargs)
        assert _code(err) == code, kwargs
    with pytest.raises(ClientError) as err:
        kinesis.put_record(StreamName="s", Data=b"x" * (1024 * 1024), PartitionKey="k")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.get_records(ShardIterator="forged-iterator-token")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000009", ShardIteratorType="LATEST")
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        kinesis.split_shard(StreamName="s", ShardToSplit="shardId-000000000000", NewStartingHashKey="1")
    assert _code(err) == "InvalidArgumentException"


def test_records_older_than_the_retention_period_are_neither_returned_nor_kept(kinesis: Any, components: Any) -> None:
    from lamina.services.streams import streams

    kinesis.create_stream(StreamName="old", ShardCount=1)
    key = streams.shard_key(components.settings.account_id, "old", "shardId-000000000000")
    day_ago_ms = int(time.time() * 1000) - 25 * 3600 * 1000
    components.redis.xadd(key, {"p": "k", "d": b"stale"}, id=f"{day_ago_ms}-0")  # arrived 25 hours ago
    it = kinesis.get_shard_iterator(StreamName="old", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []
    kinesis.put_record(StreamName="old", Data=b"fresh", PartitionKey="k")  # each put trims its shard
    first = components.redis.xrange(key, count=1)[0][1]
    assert first[b"d"] == b"fresh"


def test_the_lamina_cli_creates_lists_and_puts_to_streams(live_server: Any, kinesis: Any) -> None:
    import json

    from click.testing import CliRunner
    from lamina.cli.main import cli

    runner = CliRunner()
    opts = ["--endpoint", live_server.url]
    made = runner.invoke(cli, ["streams", "create", "cli-stream", "--shards", "2", *opts])
    assert made.exit_code == 0, made.output
    put = runner.invoke(cli, ["streams", "put", "cli-stream", "key-1", "hello", *opts, "--json"])
    assert put.exit_code == 0, put.output
    assert json.loads(put.output)["ShardId"].startswith("shardId-")
    listed = runner.invoke(cli, ["streams", "list", *opts, "--json"])
    [stream] = json.loads(listed.output)["Streams"]
    assert (stream["StreamName"], stream["ShardCount"], stream["Records"]) == ("cli-stream", 2, 1)
    detail = json.loads(runner.invoke(cli, ["streams", "get", "cli-stream", *opts, "--json"]).output)
    assert sum(s["Records"] for s in detail["Shards"]) == 1 and detail["Consumers"] == []
    # The same stream through boto3.
    assert kinesis.describe_stream_summary(StreamName="cli-stream")["StreamDescriptionSummary"]["OpenShardCount"] == 2
    assert runner.invoke(cli, ["streams", "delete", "cli-stream", *opts]).exit_code == 0
    assert kinesis.list_streams()["StreamNames"] == []


def test_another_account_reaches_a_stream_only_through_its_resource_policy(kinesis: Any, live_server: Any,
                                                                           components: Any) -> None:
    import json

    import boto3
    from lamina.services.iam import iam

    other = iam.ensure_account_user_key(components, "111111111111", "other", "outsider", admin=True)
    theirs = boto3.client("kinesis", endpoint_url=live_server.url, region_name="us-east-1",
                          aws_access_key_id=other.access_key_id, aws_secret_access_key=other.secret_access_key)
    kinesis.create_stream(StreamName="shared", ShardCount=1)
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/shared"
    with pytest.raises(ClientError) as err:
        theirs.put_record(StreamARN=arn, Data=b"not yet", PartitionKey="k")
    assert _code(err) == "AccessDeniedException"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": ["kinesis:PutRecord", "kinesis:DescribeStreamSummary"], "Resource": arn}]}
    kinesis.put_resource_policy(ResourceARN=arn, Policy=json.dumps(policy))
    assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == policy
    theirs.put_record(StreamARN=arn, Data=b"from 111111111111", PartitionKey="k")
    with pytest.raises(ClientError) as err:  # reading was not granted
        theirs.get_shard_iterator(StreamARN=arn, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    assert _code(err) == "AccessDeniedException"
    with pytest.raises(ClientError) as err:  # nor managing the policy
        theirs.delete_resource_policy(ResourceARN=arn)
    assert _code(err) == "AccessDeniedException"
    it = kinesis.get_shard_iterator(StreamName="shared", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"from 111111111111"]
    kinesis.delete_resource_policy(ResourceARN=arn)
    with pytest.raises(ClientError) as err:
        theirs.put_record(StreamARN=arn, Data=b"revoked", PartitionKey="k")
    assert _code(err) == "AccessDeniedException"
