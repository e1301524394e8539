"""``lamina streams`` (/lamina/v1/streams: Kinesis streams, their shards and readers) and ``lamina volumes``
(/lamina/v1/volumes: the shared file systems functions mount)."""

from __future__ import annotations

import base64
import json
import sys

import click

from lamina.cli.client import LaminaClient
from lamina.cli.functions import api_options
from lamina.cli.kinds import Kind, Verb, arg, collection, make_group, opt
from lamina.cli.output import emit


@click.command("put")
@click.argument("name")
@click.argument("partition_key")
@click.argument("data")
@api_options
def put(name: str, partition_key: str, data: str, endpoint: str, token: str | None, as_json: bool) -> None:
    """Put one record (DATA, or - to read it from standard input) through the Kinesis API."""
    raw = sys.stdin.buffer.read() if data == "-" else data.encode()
    client = LaminaClient(endpoint, token)
    body = {"StreamName": name, "PartitionKey": partition_key, "Data": base64.b64encode(raw).decode()}
    resp = client.request("POST", "/", raw=json.dumps(body).encode(),
                          headers={"X-Amz-Target": "Kinesis_20131202.PutRecord",
                                   "Content-Type": "application/x-amz-json-1.1"})
    emit(resp.json(), as_json)


STREAMS = Kind(
    group="streams",
    help="Kinesis data streams: shards, records per second and how far behind each mapping is.",
    path=collection("/lamina/v1/streams"),
    id_arg="name",
    columns=[("NAME", "StreamName"), ("SHARDS", "ShardCount"), ("RECORDS", "Records"),
             ("RECORDS/S", "IncomingRecordsPerSecond"), ("RETENTION H", "RetentionPeriodHours")],
    verbs=(
        Verb("create", "POST", with_id=False, opts=(
            arg("name", "StreamName"),
            opt("--shards", key="ShardCount", type=int, default=1, show_default=True, help="Shard count."),
        )),
        Verb("list", "GET", with_id=False, rows_key="Streams"),
        Verb("get", "GET", show="detail"),
        Verb("delete", "DELETE", show="done", done="deleted stream {id}"),
    ),
    extra=(put,),
)

VOLUMES = Kind(
    group="volumes",
    help="Shared file systems (FileSystemConfigs access points): size, files and the functions mounting each.",
    path=collection("/lamina/v1/volumes"),
    id_arg="name",
    columns=[("NAME", "Name"), ("SIZE", "SizeBytes"), ("FILES", "Files"), ("USED BY", "UsedBy"),
             ("ACCESS POINT", "AccessPointArn")],
    verbs=(
        Verb("list", "GET", with_id=False, rows_key="Volumes"),
        Verb("delete", "DELETE", show="done", done="deleted volume {id}"),
    ),
)

streams = make_group(STREAMS)
volumes = make_group(VOLUMES)
