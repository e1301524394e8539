"""PostgreSQL through a multi-host URL: a streaming replica promoted after the primary dies takes over, and
`lamina serve` carries on by itself (libpq's target_session_attrs, SQLAlchemy's pre-ping)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config
from support.functions import make_zip
from support.servers import PostgresCluster, RedisServer, free_port

APP = "def handler(event, context):\n    return event\n"


def _as_postgres(command: str) -> None:
    argv = ["su", "postgres", "-s", "/bin/sh", "-c", command] if os.geteuid() == 0 else ["sh", "-c", command]
    subprocess.run(argv, check=True, capture_output=True)


def test_a_promoted_replica_takes_over_and_the_api_reconnects_by_itself(tmp_path: Path) -> None:
    primary = PostgresCluster()
    primary.start()
    replica_dir = Path(tempfile.mkdtemp(prefix="lamina-test-pg-replica-"))
    replica_port = free_port()
    if os.geteuid() == 0:
        shutil.chown(replica_dir, "postgres")
    _as_postgres(f"{primary.bin}/pg_basebackup -h 127.0.0.1 -p {primary.port} -U postgres -D {replica_dir} "
                 "-R -X stream")
    _as_postgres(f"{primary.bin}/pg_ctl -D {replica_dir} -l {replica_dir}/log -w "
                 f"-o '-p {replica_port} -k /tmp -c fsync=off -c max_connections=200' start")
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    port = free_port()
    url = (f"postgresql+psycopg2://postgres@/postgres?host=127.0.0.1:{primary.port}&host=127.0.0.1:{replica_port}"
           "&target_session_attrs=read-write")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    env.update(LAMINA_DATA_DIR=str(tmp_path / "data"), LAMINA_DATABASE_URL=url, LAMINA_REDIS_URL=redis.url,
               LAMINA_PORT=str(port), LAMINA_INSTANCE="pg-failover")
    lamina = [sys.executable, "-m", "lamina"]
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = None
    try:
        subprocess.run([*lamina, "db", "upgrade"], env=env, check=True, capture_output=True)
        creds = json.loads(subprocess.run([*lamina, "admin", "bootstrap", "--json"], env=env, check=True,
                                          capture_output=True, text=True).stdout)
        proc = subprocess.Popen([*lamina, "serve", "--workers", "1", "--threads", "8"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                              config=Config(retries={"max_attempts": 1}))

        def create(name: str) -> None:
            client.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                   Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": make_zip({"app.py": APP})})

        deadline = time.monotonic() + 60
        while True:
            try:
                create("before")
                break
            except Exception:  # noqa: BLE001 - the server is starting
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-2000:]
                time.sleep(0.25)
        time.sleep(1.0)  # the replica has streamed it
        primary.stop("immediate")
        _as_postgres(f"{primary.bin}/pg_ctl -D {replica_dir} -w promote")
        # The pool's connections to the dead primary are replaced by ones to the new primary.
        deadline = time.monotonic() + 30
        errors = []
        while True:
            try:
                create("after")
                break
            except Exception as err:  # noqa: BLE001 - counted: at most the calls made during the switch
                errors.append(repr(err))
                assert time.monotonic() < deadline, errors[-3:]
                time.sleep(0.5)
        names = {f["FunctionName"] for f in client.list_functions()["Functions"]}
        assert names == {"before", "after"}, names
        assert all("ServiceException" in e or "500" in e or "502" in e for e in errors), errors
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()
        redis.stop()
        try:
            _as_postgres(f"{primary.bin}/pg_ctl -D {replica_dir} -m immediate -w stop")
        except subprocess.CalledProcessError:
            pass
        primary.remove()
        shutil.rmtree(replica_dir, ignore_errors=True)
