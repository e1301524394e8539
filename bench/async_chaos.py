"""Benchmark and chaos experiment (not a test by itself; tests/chaos runs it): asynchronous events while
lamina's processes are killed.

Real PostgreSQL (a fresh database on the server LAMINA_DATABASE_URL or LAMINA_TEST_DATABASE_URL names),
a redis-server of its own with AOF, Docker, and lamina as separate processes: ``lamina serve``,
``lamina scheduler`` and ``lamina worker --processes 2``. Clients send ``--events`` events (retrying a
request the API did not acknowledge); meanwhile, at random moments, worker processes are SIGKILLed
``--worker-kills`` times, the API and the scheduler once each (and started again), and Redis is
restarted twice: SIGKILL under ``appendfsync always``, then a clean SIGTERM under ``everysec``.

Reports lost events (acknowledged with 202 but never completed with their OnSuccess destination),
duplicates (events whose function ran more than once, counted from the START lines of the function's
logs), the time to drain after the last acknowledgement, and what was killed.

    eval "$(scripts/services.sh all)"; python bench/async_chaos.py [--events 2000] [--worker-kills 10] [--json F]
"""

from __future__ import annotations

import argparse
import base64
import collections
import http.client
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import redis
import sqlalchemy as sa
from common import free_port
from lamina.config import Settings
from lamina.executor.images import ensure_images
from lamina.services.events import events

NAME = "chaos-noop"
HANDLER = "def handler(event, context):\n    return {'i': event.get('i')}\n"
QUEUE = "chaos-done"
FAST_ENV = {
    "LAMINA_ASYNC_LEASE": "2",  # a dead worker's event comes back after 2 s (30 s by default)
    "LAMINA_ASYNC_RESCUE_AFTER": "3",
    "LAMINA_ASYNC_THROTTLE_DELAY": "0.2",
    "LAMINA_ASYNC_THROTTLE_MAX_DELAY": "2",
    "LAMINA_TRIGGER_TICK": "0.1",
}


class RedisServer:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, fsync: str) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", fsync, "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        r = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if r.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


class Proc:
    """One lamina process (its own process group, so a kill takes its children too)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lamina", *self.args], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"),  # noqa: SIM115
                                     start_new_session=True)

    def kill(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def children(self) -> list[int]:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []


class Api:
    def __init__(self, port: int, token: str | None) -> None:
        self.port, self.token = port, token

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **auth,
                                                           **(headers or {})})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def healthy(self) -> bool:
        try:
            return self.call("GET", "/health", timeout=2)[0] == 200
        except OSError:
            return False


def _wait(predicate: Any, limit: float, what: str) -> None:
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit(f"{what} did not happen within {limit} s")
        time.sleep(0.1)


def _database(admin_url: str) -> tuple[str, Any]:
    name = f"lamina_chaos_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url, drop


def _zip() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", HANDLER)
    return base64.b64encode(buf.getvalue()).decode()


def _runs_per_request(log_dir: Path) -> collections.Counter[str]:
    """How many times the runtime started each request id: START lines of the function's log streams."""
    runs: collections.Counter[str] = collections.Counter()
    for path in log_dir.rglob("*"):
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            try:
                msg = json.loads(line).get("msg", "")
            except ValueError:
                continue
            if msg.startswith("START RequestId: "):
                runs[msg.split()[2]] += 1
    return runs


def _no_orphans(r: redis.Redis, docker_client: Any, instance: str, everything: list[Proc],
                scheduler: Proc, limit_s: float = 60.0) -> tuple[int, float]:
    """SIGKILL every platform process, start the scheduler alone, and wait until each container of the
    instance is adopted (its environment or sandbox is in the pool) or removed; return how many are
    neither after ``limit_s`` (one reconcile), and how long it took."""
    from lamina.scheduler.pool import Pool

    for proc in everything:
        proc.kill()
    pool = Pool(r)
    t0 = time.monotonic()
    scheduler.start()

    def unaccounted() -> list[str]:
        """Containers the pool does not know, and environments the pool knows whose container is gone."""
        envs = pool.snapshot().envs
        known = {e.container_id for e in envs} | {e.sandbox_id for e in envs}
        known |= {cid for cid, _ip in pool.free_sandboxes()}
        known |= {cid for _cell, cid, _ip in pool.free_cells()}
        # The low-level list: containers.list() inspects each one and fails on one removed meanwhile.
        running = {c["Id"] for c in docker_client.api.containers(
            all=True, filters={"label": f"lamina.instance={instance}"})}
        stale = [e.env_id for e in envs if e.container_id and e.container_id not in running]
        return [cid for cid in running if cid not in known] + stale

    time.sleep(3)  # the scheduler's first act is a sweep (adopt or remove), then one round a second
    while (left := unaccounted()) and time.monotonic() - t0 < limit_s:
        time.sleep(0.5)
    for item in left:
        print(f"not reconciled: {item}", file=sys.stderr)
    return len(left), round(time.monotonic() - t0, 2)


@dataclass
class Install:
    """A throw-away lamina for one experiment: a fresh PostgreSQL database, a redis-server of its own, the
    runtime image, the schema and an admin key (the processes are started by the experiment)."""

    data_dir: Path
    redis: RedisServer
    env: dict[str, str]
    settings: Settings
    instance: str
    docker: Any
    creds: dict[str, str]
    api: Api
    drop_db: Callable[[], None]

    @classmethod
    def make(cls, prefix: str, fsync: str, extra_env: dict[str, str] | None = None) -> Install:
        admin_url = os.environ.get("LAMINA_DATABASE_URL") or os.environ.get("LAMINA_TEST_DATABASE_URL")
        if not admin_url:
            raise SystemExit('set LAMINA_DATABASE_URL (or LAMINA_TEST_DATABASE_URL): eval "$(scripts/services.sh all)"')
        data_dir = Path(tempfile.mkdtemp(prefix=prefix))
        redis_server = RedisServer(data_dir, free_port())
        redis_server.start(fsync)
        db_url, drop_db = _database(admin_url)
        port = free_port()
        instance = f"{prefix.strip('-').rsplit('-', 1)[-1]}-{uuid.uuid4().hex[:6]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        env.update(LAMINA_DATA_DIR=str(data_dir), LAMINA_DATABASE_URL=db_url, LAMINA_PORT=str(port),
                   LAMINA_REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0", LAMINA_INSTANCE=instance,
                   LAMINA_MIGRATE_ON_START="false", **(extra_env or {}))
        settings = Settings.from_env(env)
        client = docker.from_env(timeout=300)
        ensure_images(client, settings, ["python"], log=lambda m: print(m, file=sys.stderr))
        subprocess.run([sys.executable, "-m", "lamina", "db", "upgrade"], env=env, check=True, capture_output=True)
        creds = json.loads(subprocess.run([sys.executable, "-m", "lamina", "admin", "bootstrap", "--json"], env=env,
                                          capture_output=True, text=True, check=True).stdout)
        api = Api(port, f"{creds['AccessKeyId']}:{creds['SecretAccessKey']}")
        return cls(data_dir, redis_server, env, settings, instance, client, creds, api, drop_db)

    def tear_down(self) -> None:
        """Remove the instance's containers, stop its Redis and drop its database (processes stopped first)."""
        for c in self.docker.api.containers(all=True, filters={"label": f"lamina.instance={self.instance}"}):
            try:
                self.docker.api.remove_container(c["Id"], force=True)
            except docker.errors.APIError:
                pass  # removed meanwhile, or being removed
        self.redis.stop(signal.SIGTERM)
        self.drop_db()


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    inst = Install.make("lamina-chaos-", "always", FAST_ENV)
    data_dir, redis_server, env, settings, instance = inst.data_dir, inst.redis, inst.env, inst.settings, inst.instance
    docker_client, creds, api = inst.docker, inst.creds, inst.api
    server = Proc(["serve", "--workers", "2", "--threads", "32"], env, data_dir / "server.log")
    scheduler = Proc(["scheduler"], env, data_dir / "scheduler.log")
    workers = Proc(["worker", "--processes", "2"], env, data_dir / "worker.log")
    r = redis.Redis.from_url(env["LAMINA_REDIS_URL"])
    acked: list[str] = []
    acked_lock = threading.Lock()
    kills: collections.Counter[str] = collections.Counter()
    t_start = time.monotonic()
    try:
        for proc in (server, scheduler, workers):
            proc.start()
        _wait(api.healthy, 60, "the API answering")
        acct = creds["AccountId"]
        status, _h, body = api.call("POST", "/2015-03-31/functions", {
            "FunctionName": NAME, "Runtime": "python3.11", "Handler": "app.handler", "MemorySize": 128,
            "Role": f"arn:aws:iam::{acct}:role/chaos", "Code": {"ZipFile": _zip()}})
        assert status == 201, body
        assert api.call("POST", "/lamina/v1/queues", {"QueueName": QUEUE})[0] in (200, 201)
        dest = f"arn:aws:sqs:{settings.region}:{acct}:{QUEUE}"
        status, _h, body = api.call("PUT", f"/2019-09-25/functions/{NAME}/event-invoke-config",
                                    {"DestinationConfig": {"OnSuccess": {"Destination": dest}}})
        assert status == 200, body

        per_client = args.events // args.clients
        last_ack = [time.monotonic()]
        sending = threading.Event()
        sending.set()

        def send(client: int) -> None:
            for i in range(per_client):
                while True:
                    try:
                        status, headers, _b = api.call(
                            "POST", f"/2015-03-31/functions/{NAME}/invocations", {"i": client * per_client + i},
                            {"X-Amz-Invocation-Type": "Event"}, timeout=15)
                    except OSError:
                        status, headers = 0, {}
                    if status == 202:
                        with acked_lock:
                            acked.append(headers["x-amzn-requestid"])
                            last_ack[0] = time.monotonic()
                        break
                    time.sleep(0.05)  # not acknowledged (the API or Redis is down): send it again

        senders = [threading.Thread(target=send, args=(c,), daemon=True) for c in range(args.clients)]
        for t in senders:
            t.start()

        # The chaos: every action once, in a random order, spread over the sending.
        actions = ["worker"] * args.worker_kills + ["api", "scheduler", "redis-crash", "redis-restart"]
        rng.shuffle(actions)
        # Redis crashes under `always` first; the clean restart runs under everysec.
        actions.remove("redis-crash")
        actions.remove("redis-restart")
        actions.insert(rng.randrange(0, len(actions) // 2 + 1), "redis-crash")
        actions.insert(rng.randrange(len(actions) // 2 + 1, len(actions) + 1), "redis-restart")
        fsync = "always"
        for action in actions:
            time.sleep(rng.uniform(0.3, 1.2))
            if action == "worker":
                pids = workers.children()
                if pids:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    kills["worker process"] += 1
            elif action == "api":
                server.kill()
                kills["API"] += 1
                time.sleep(0.5)
                server.start()
                _wait(api.healthy, 60, "the API answering again")
            elif action == "scheduler":
                scheduler.kill()
                kills["scheduler"] += 1
                scheduler.start()
            elif action == "redis-crash":
                redis_server.stop(signal.SIGKILL)
                kills["redis SIGKILL (appendfsync always)"] += 1
                fsync = "everysec"
                redis_server.start(fsync)
            elif action == "redis-restart":
                redis_server.stop(signal.SIGTERM)
                kills["redis SIGTERM (appendfsync everysec)"] += 1
                redis_server.start(fsync)
        for t in senders:
            t.join(timeout=600)

        def pending() -> int:
            with acked_lock:
                ids = list(acked)
            pipe = r.pipeline(transaction=False)
            for rid in ids:
                pipe.hget(events.keys.event(rid), "state")
            return sum(1 for s in pipe.execute() if s != b"done")

        deadline = time.monotonic() + args.drain_limit_s
        while (left := pending()) and time.monotonic() < deadline:
            time.sleep(0.1)
        drain_s = max(0.0, time.monotonic() - last_ack[0])

        # Every acknowledged event must have completed and delivered its OnSuccess record.
        delivered: collections.Counter[str] = collections.Counter()
        while True:
            status, _h, body = api.call("POST", f"/lamina/v1/queues/{QUEUE}/receive",
                                        {"MaxNumberOfMessages": 10, "VisibilityTimeout": 600})
            msgs = json.loads(body).get("Messages") or []
            if not msgs:
                break
            for m in msgs:
                delivered[json.loads(m["Body"])["requestContext"]["requestId"]] += 1
        orphans, reconcile_s = _no_orphans(r, docker_client, instance, [workers, scheduler, server], scheduler)
        runs = _runs_per_request(data_dir / "logs")
        lost = [rid for rid in acked if rid not in delivered]
        duplicates = {rid: n for rid, n in runs.items() if n > 1 and rid in set(acked)}
        states = collections.Counter()
        for rid in lost[:50]:
            ev = events.get_event(r, rid) or {}
            states[f"{ev.get('state')}/gen={ev.get('gen')}/enq={ev.get('enq')}"] += 1
        return {
            "events_acknowledged": len(acked),
            "lost": len(lost),
            "lost_states": dict(states),
            "still_pending": left,
            "destination_records_twice": sum(1 for n in delivered.values() if n > 1),
            "duplicates": len(duplicates),
            "duplicate_runs": sum(n - 1 for n in duplicates.values()),
            "drain_s": round(drain_s, 2),
            "total_s": round(time.monotonic() - t_start, 2),
            "kills": dict(kills),
            "orphans_after_reconcile": orphans,
            "reconcile_s": reconcile_s,
            "rescued": sum(int(r.hget(events.keys.event(rid), "rescued") or 0) for rid in acked),
            "recovered": sum(int(r.hget(events.keys.event(rid), "recovered") or 0) for rid in acked),
            "logs": str(data_dir),
        }
    finally:
        for proc in (workers, scheduler, server):
            proc.stop()
        inst.tear_down()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--worker-kills", type=int, default=10)
    parser.add_argument("--drain-limit-s", type=float, default=300)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", dest="json_out", default=None, help="write the result here as JSON too")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (logs) afterwards")
    args = parser.parse_args()
    result = run(args)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    print(f"\n### lamina async chaos ({os.cpu_count()} CPUs, lamina serve + scheduler + worker --processes 2)\n")
    print("| Measure | Value |")
    print("|---|---|")
    print(f"| Events acknowledged (202) | {result['events_acknowledged']} |")
    print(f"| Lost (acknowledged, never completed) | {result['lost']} |")
    print(f"| Duplicates (function ran more than once) | {result['duplicates']} "
          f"({result['duplicate_runs']} extra runs) |")
    print(f"| Destination records delivered twice | {result['destination_records_twice']} |")
    print(f"| Time to drain after the last acknowledgement | {result['drain_s']} s |")
    print(f"| Whole experiment (sending, chaos, drain) | {result['total_s']} s |")
    print(f"| Events requeued after a dead worker's lease / rescued from a dead worker's job | "
          f"{result['recovered']} / {result['rescued']} |")
    print(f"| Killed | {', '.join(f'{k} x{v}' for k, v in result['kills'].items())} |")
    print(f"| Containers neither adopted nor removed after SIGKILL of every process and a restart | "
          f"{result['orphans_after_reconcile']} (reconciled in {result['reconcile_s']} s) |")


if __name__ == "__main__":
    main()
