"""docker-compose.yml brought up for real, offline (issue 18): PostgreSQL and Redis images built from Debian's
packages and the platform image (`lamina images build --stack`), the whole stack started with Debian's
docker-compose, driven with boto3 (create, invoke, publish, alias, async), restarted with events still
queued, and found intact: functions, versions, aliases, and every accepted event run."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from botocore.config import Config
from cryptography.fernet import Fernet
from lamina.config import Settings
from lamina.executor.images import ensure_images, ensure_stack_images
from support.functions import make_zip
from support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = "def handler(event, context):\n    print('event', event)\n    return {'got': event}\n"


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.project = f"laminacompose{os.getpid()}"
        self.port = free_port()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")},
                    "LAMINA_POSTGRES_IMAGE": "lamina/postgres:offline", "LAMINA_REDIS_IMAGE": "lamina/redis:offline",
                    "LAMINA_PORT": str(self.port), "LAMINA_POSTGRES_PORT": str(free_port()),
                    "LAMINA_REDIS_PORT": str(free_port()), "LAMINA_DATA_DIR": str(tmp / "data"),
                    "LAMINA_INSTANCE": self.project, "LAMINA_DOCKER_NETWORK": self.project,
                    "LAMINA_MASTER_KEY": Fernet.generate_key().decode()}
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["docker-compose", "-p", self.project, "-f", str(ROOT / "docker-compose.yml"), *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check:
            assert done.returncode == 0, f"docker-compose {' '.join(args)}: {done.stderr[-3000:]}"
        return done

    def up(self) -> None:
        self.compose("up", "-d", "--no-build")
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if json.loads(resp.read())["status"] == "ok":
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, self.compose("logs", "--tail", "60", check=False).stdout[-6000:]
            time.sleep(0.5)

    def client(self, service: str, creds: dict[str, str]) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            config=Config(retries={"max_attempts": 3}, read_timeout=120))


@pytest.fixture
def stack(tmp_path: Path, settings: Settings) -> Iterator[Stack]:
    client = docker.from_env(timeout=600)
    # The api service runs `lamina images build`: every runtime image must be current on this engine (it
    # cannot run mmdebstrap inside its container), and the stack's own images are built offline here.
    ensure_images(client, settings.with_(base_image=None), log=lambda msg: None)
    ensure_stack_images(client, settings.with_(base_image=None), log=lambda msg: None)
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.compose("down", "-v", "--remove-orphans", check=False)
        for c in client.containers.list(all=True, filters={"label": f"lamina.instance={s.project}"}):
            c.remove(force=True)
        for n in client.networks.list(names=[s.project]):
            n.remove()
        client.close()


def _started_ids(logs: Any, name: str) -> set[str]:
    found: set[str] = set()
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{name}",
                                                                   filterPattern='"START RequestId"'):
        found |= {e["message"].split("RequestId: ")[1].split()[0] for e in page["events"]}
    return found


def test_the_compose_stack_runs_offline_and_keeps_everything_across_a_restart(stack: Stack) -> None:
    stack.up()
    boot = stack.compose("exec", "-T", "api", "lamina", "admin", "bootstrap", "--json")
    creds = json.loads(boot.stdout)
    lam, logs = stack.client("lambda", creds), stack.client("logs", creds)
    lam.create_function(FunctionName="stack-fn", Runtime="python3.11", Handler="app.handler",
                        Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.get_waiter("function_active_v2").wait(FunctionName="stack-fn")
    got = lam.invoke(FunctionName="stack-fn", Payload=b'{"n": 1}')
    assert got["StatusCode"] == 200 and json.loads(got["Payload"].read()) == {"got": {"n": 1}}
    assert lam.publish_version(FunctionName="stack-fn")["Version"] == "1"
    lam.create_alias(FunctionName="stack-fn", Name="live", FunctionVersion="1")
    first = lam.invoke(FunctionName="stack-fn", InvocationType="Event", Payload=b'{"async": 0}')
    assert first["StatusCode"] == 202

    # Events accepted while no worker runs stay queued through a restart of the whole stack.
    stack.compose("stop", "worker")
    queued = []
    for i in range(1, 4):
        accepted = lam.invoke(FunctionName="stack-fn:live", InvocationType="Event",
                              Payload=json.dumps({"async": i}).encode())
        assert accepted["StatusCode"] == 202
        queued.append(accepted["ResponseMetadata"]["RequestId"])
    stack.compose("down")  # containers go; the named volumes (PostgreSQL's, Redis's AOF) stay
    stack.up()

    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["stack-fn"]
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="stack-fn")["Versions"]] == \
        ["$LATEST", "1"]
    assert lam.get_alias(FunctionName="stack-fn", Name="live")["FunctionVersion"] == "1"
    deadline = time.monotonic() + 120
    while not set(queued) <= _started_ids(logs, "stack-fn"):
        assert time.monotonic() < deadline, (queued, _started_ids(logs, "stack-fn"),
                                             stack.compose("logs", "--tail", "40", "worker", check=False).stdout)
        time.sleep(1.0)
    again = lam.invoke(FunctionName="stack-fn:live", Payload=b'{"after": "restart"}')
    assert json.loads(again["Payload"].read()) == {"got": {"after": "restart"}}
