"""Benchmark (not a test): the AWS services lamina serves (issue 15), through AWS's own clients (boto3).

Rows, each beside a baseline of the same run:
  * SendMessage per second (8 boto3 clients, one process each), and messages per second with
    SendMessageBatch of 10; baseline: the same clients against moto's server (``--moto URL``: the local
    AWS emulator most test suites use), else lamina's own queue REST API with a raw HTTP client;
  * PutRecords records per second (batches of 100, 8 clients), and PutRecord per second; same baselines;
  * end-to-end delay from send to the function's start, p50 / p99, through an SQS and a Kinesis event
    source mapping polled by a ``lamina worker``, one message at a time (the function logs the delay from
    the record's own send / arrival timestamp); baseline: a synchronous Invoke of the same warm function
    (request to handler start), which no event source can beat.

    eval "$(scripts/services.sh docker)"; python bench/services.py [--quick] [--moto http://127.0.0.1:5000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import invoke as bench
from common import pct

from runtimes import zipped

ROLE = "arn:aws:iam::000000000000:role/bench"
DELAY_FN = """
import json, time

def handler(event, context):
    now = time.time() * 1000
    for r in event["Records"]:
        if "kinesis" in r:
            sent = r["kinesis"]["approximateArrivalTimestamp"] * 1000
        elif "attributes" in r:
            sent = int(r["attributes"]["SentTimestamp"])
        else:
            sent = event.get("sent", now)
        print("DELAY %.2f" % (now - sent))
"""
SYNC_FN = """
import time

def handler(event, context):
    print("DELAY %.2f" % (time.time() * 1000 - event["sent"]))
"""


def _client(service: str, endpoint: str, key: str) -> Any:
    import boto3
    from botocore.config import Config

    akid, _, secret = key.partition(":")
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=akid,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 0},
                                                                    max_pool_connections=4))


def _worker(kind: str, endpoint: str, key: str, target: str, barrier: Any, stop_in_s: float, out: Any) -> None:
    if kind.startswith("sqs"):
        client = _client("sqs", endpoint, key)
        url = client.get_queue_url(QueueName=target)["QueueUrl"]
        if kind == "sqs-batch":
            entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
            call, per = (lambda: client.send_message_batch(QueueUrl=url, Entries=entries)), 10
        else:
            call, per = (lambda: client.send_message(QueueUrl=url, MessageBody="x" * 100)), 1
    else:
        client = _client("kinesis", endpoint, key)
        if kind == "kinesis-batch":
            records = [{"Data": b"x" * 100, "PartitionKey": f"k{i}"} for i in range(100)]
            call, per = (lambda: client.put_records(StreamName=target, Records=records)), 100
        else:
            call, per = (lambda: client.put_record(StreamName=target, Data=b"x" * 100, PartitionKey="k")), 1
    for _ in range(5):
        call()
    barrier.wait()
    done = 0
    end = time.monotonic() + stop_in_s
    while time.monotonic() < end:
        call()
        done += per
    out.put(done)


def rate(kind: str, endpoint: str, key: str, target: str, clients: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kind, endpoint, key, target, barrier, seconds, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.monotonic()
    total = sum(out.get(timeout=seconds + 120) for _ in procs)
    elapsed = time.monotonic() - started
    for p in procs:
        p.join()
    return total / max(elapsed, seconds)


def setup_targets(endpoint: str, key: str, name: str) -> None:
    _client("sqs", endpoint, key).create_queue(QueueName=name)
    kinesis = _client("kinesis", endpoint, key)
    kinesis.create_stream(StreamName=name, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})


def _delays(logs: Any, function: str, want: int, limit_s: float) -> list[float]:
    end = time.monotonic() + limit_s
    found: list[float] = []
    while time.monotonic() < end:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function}",
                                                                     filterPattern="DELAY")
            found = [float(e["message"].split()[1]) for p in pages for e in p["events"]]
        except logs.exceptions.ResourceNotFoundException:
            found = []
        if len(found) >= want:
            return found
        time.sleep(0.5)
    raise SystemExit(f"only {len(found)} of {want} deliveries of {function} were logged in {limit_s:.0f} s")


def end_to_end(lam: Any, endpoint: str, key: str, n: int) -> dict[str, list[float]]:
    create = lambda name, code: lam.api.call("POST", "/2015-03-31/functions", json.dumps({  # noqa: E731
        "FunctionName": name, "Role": ROLE, "Runtime": "python3.11", "Handler": "app.handler", "MemorySize": 128,
        "Timeout": 30, "Code": {"ZipFile": zipped({"app.py": code})}}).encode(), ok=(201,))
    for name in ("e2e-sqs", "e2e-kinesis"):
        create(name, DELAY_FN)
    create("e2e-sync", SYNC_FN)
    sqs, kinesis, lam_client = (_client(s, endpoint, key) for s in ("sqs", "kinesis", "lambda"))
    logs = _client("logs", endpoint, key)
    url = sqs.create_queue(QueueName="e2e")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    kinesis.create_stream(StreamName="e2e", ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName="e2e")["StreamDescriptionSummary"]["StreamARN"]
    lam_client.create_event_source_mapping(FunctionName="e2e-sqs", EventSourceArn=arn, BatchSize=1)
    lam_client.create_event_source_mapping(FunctionName="e2e-kinesis", EventSourceArn=stream_arn, BatchSize=1,
                                           StartingPosition="LATEST")
    worker = subprocess.Popen([sys.executable, "-m", "lamina", "worker"], env=lam.env, stdout=subprocess.DEVNULL,
                              stderr=open(Path(lam.env["LAMINA_DATA_DIR"]) / "worker.log", "wb"))
    try:
        # Warm each path once (the first delivery starts an environment), then measure one at a time.
        sqs.send_message(QueueUrl=url, MessageBody="warm")
        kinesis.put_record(StreamName="e2e", Data=b"warm", PartitionKey="k")
        lam_client.invoke(FunctionName="e2e-sync", Payload=json.dumps({"sent": time.time() * 1000}))
        _delays(logs, "e2e-sqs", 1, 60)
        _delays(logs, "e2e-kinesis", 1, 60)
        for i in range(n):
            sqs.send_message(QueueUrl=url, MessageBody=str(i))
            kinesis.put_record(StreamName="e2e", Data=str(i).encode(), PartitionKey="k")
            lam_client.invoke(FunctionName="e2e-sync", Payload=json.dumps({"sent": time.time() * 1000}))
            time.sleep(0.25)  # one at a time: each arrives at an idle poller
        return {name: _delays(logs, name, n + 1, 60)[1:] for name in ("e2e-sqs", "e2e-kinesis", "e2e-sync")}
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def moto_server(port: int) -> subprocess.Popen[bytes] | None:
    """moto's server from a peer venv, if one is there (``python -m venv /tmp/moto-venv`` and
    ``pip install 'moto[server]'``), else None."""
    exe = Path(os.environ.get("MOTO_VENV", "/tmp/moto-venv")) / "bin" / "moto_server"
    if not exe.exists():
        return None
    proc = subprocess.Popen([str(exe), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--moto", help="a running moto server; default: start one from $MOTO_VENV if present")
    args = parser.parse_args()
    seconds, n = (3.0, 20) if args.quick else (8.0, 100)
    rows: list[tuple[str, str, str]] = []
    moto_proc = None
    moto = args.moto
    if moto is None:
        moto_proc = moto_server(5123)
        moto = "http://127.0.0.1:5123" if moto_proc else None
    try:
        with bench.served("lamina-bench-services-", ["python3.11"], workers=2, threads=64) as lam:
            endpoint = f"http://127.0.0.1:{lam.api.port}"
            key = str(bench.TOKEN)
            setup_targets(endpoint, key, "load")
            if moto:
                setup_targets(moto, "test:test", "load")
            for kind, label, unit in (("sqs", "SendMessage, 8 boto3 clients", "messages/s"),
                                      ("sqs-batch", "SendMessageBatch of 10, 8 boto3 clients", "messages/s"),
                                      ("kinesis", "PutRecord, 8 boto3 clients", "records/s"),
                                      ("kinesis-batch", "PutRecords of 100, 8 boto3 clients", "records/s")):
                mine = rate(kind, endpoint, key, "load", 8, seconds)
                peer = rate(kind, moto, "test:test", "load", 8, seconds) if moto else None
                rows.append((label, f"{mine:.0f} {unit}",
                             f"moto server {peer:.0f} {unit} ({mine / peer:.1f}x)" if peer else "moto not run"))
                print(f"{kind} done", file=sys.stderr)
            delays = end_to_end(lam, endpoint, key, n)
            sync = delays["e2e-sync"]
            for name, label in (("e2e-sqs", "SQS"), ("e2e-kinesis", "Kinesis")):
                d = delays[name]
                rows.append((f"send to function start, {label} mapping, p50 / p99", f"{pct(d, 0.5):.1f} / "
                             f"{pct(d, 0.99):.1f} ms", f"sync Invoke to handler start {pct(sync, 0.5):.1f} / "
                             f"{pct(sync, 0.99):.1f} ms"))
    finally:
        if moto_proc is not None:
            moto_proc.terminate()
    print("| Measure | lamina | Baseline in the same run |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
