"""Benchmark (not a test): asynchronous invocation of a no-op Python function through lamina's real API
(``lamina serve``) and workers (``lamina worker --processes N``).

Reports:
  * events accepted per second: ``InvocationType=Event`` requests answered 202 (concurrent clients,
    workers stopped, so only acceptance is measured);
  * events completed per second: the workers start on that backlog; time until every event is done;
  * acceptance-to-start delay p50/p99: with idle workers, events sent one at a time; the ledger's
    ``first_started`` minus ``accepted`` of each.
and prints a markdown table.

    eval "$(scripts/services.sh docker)"; python bench/async.py [--events 5000] [--workers 4] [--quick]

Self-contained like bench/invoke.py: LAMINA_REDIS_URL / LAMINA_DATABASE_URL when set, otherwise an embedded
redis-server and a SQLite file under a temporary LAMINA_DATA_DIR; everything it starts is removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import docker
import redis
from common import bench_install, credentials, pct, wait_health
from lamina.config import Settings
from lamina.executor.images import ensure_images
from lamina.services.events import events

NAME = "bench-async-noop"
HANDLER = "def handler(event, context):\n    return None\n"


TOKEN: str | None = None  # "<AccessKeyId>:<SecretAccessKey>": the API authenticates every call


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200, 201, 202)) -> http.client.HTTPResponse:
    auth = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}
    conn.request(method, path, body=body, headers={"Content-Type": "application/json", **auth, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status not in ok:
        raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
    return resp


def send_events(port: int, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(n):
        call(conn, "POST", f"/2015-03-31/functions/{NAME}/invocations", json.dumps({"i": i}).encode(),
             {"X-Amz-Invocation-Type": "Event"}, ok=(202,))
    out.put(n)


def accept(port: int, total: int, clients: int) -> float:
    """Send ``total`` events from ``clients`` processes; return events accepted per second."""
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    per = total // clients
    procs = [mp.Process(target=send_events, args=(port, per, q)) for _ in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    return per * clients / elapsed


def backlog(r: redis.Redis) -> int:
    return int(r.llen("rq:queue:" + events.QUEUE_NAME)) + int(r.zcard(events.keys.RUNNING)) + int(
        r.zcard(events.keys.DELAYED))


def wait_drained(r: redis.Redis, limit_s: float) -> float:
    t0 = time.perf_counter()
    while backlog(r):
        if time.perf_counter() - t0 > limit_s:
            raise SystemExit(f"workers did not drain the queue in {limit_s:.0f} s ({backlog(r)} left)")
        time.sleep(0.01)
    return time.perf_counter() - t0


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "lamina", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"), start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients sending events")
    parser.add_argument("--workers", type=int, default=4, help="lamina worker processes")
    parser.add_argument("--delays", type=int, default=200, help="events sent one at a time for the delay")
    parser.add_argument("--quick", action="store_true", help="fewer events, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.events, args.delays = 1000, 50

    data_dir, env, redis_proc, port = bench_install("lamina-bench-async-")
    instance = env["LAMINA_INSTANCE"]
    settings = Settings.from_env(env)
    client = docker.from_env(timeout=300)
    ensure_images(client, settings, ["python"], log=lambda m: print(m, file=sys.stderr))
    r = redis.Redis.from_url(env["LAMINA_REDIS_URL"])
    server = workers = None
    try:
        server = start(["serve", "--workers", "2", "--threads", "64"], env, data_dir / "server.log")
        wait_health(port, server, data_dir / "server.log")
        global TOKEN
        TOKEN = credentials(env)
        env["LAMINA_MIGRATE_ON_START"] = "false"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", HANDLER)
        body = {"FunctionName": NAME, "Role": "arn:aws:iam::000000000000:role/bench", "Runtime": "python3.11",
                "Handler": "app.handler", "MemorySize": 256, "Timeout": 10,
                "Code": {"ZipFile": base64.b64encode(buf.getvalue()).decode()}}
        call(conn, "POST", "/2015-03-31/functions", json.dumps(body).encode(), ok=(201,))

        # Warm-up: the workers' environments start (cold) on a first backlog, then stop.
        workers = start(["worker", "--processes", str(args.workers)], env, data_dir / "worker.log")
        accept(port, args.workers * 20, args.workers)
        wait_drained(r, 120)
        stop(workers)

        print(f"accepting {args.events} events with {args.clients} clients ...", file=sys.stderr)
        accepted_per_s = accept(port, args.events, args.clients)
        n = backlog(r)
        print(f"running them on {args.workers} worker processes ...", file=sys.stderr)
        workers = start(["worker", "--processes", str(args.workers)], env, data_dir / "worker.log")
        drain_s = wait_drained(r, 600)
        completed_per_s = n / drain_s
        time.sleep(0.5)  # idle workers, blocked on the queue

        print(f"acceptance-to-start delay over {args.delays} events ...", file=sys.stderr)
        conn.close()  # idle longer than the server's keep-alive by now
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        delays = []
        for i in range(args.delays):
            resp = call(conn, "POST", f"/2015-03-31/functions/{NAME}/invocations", json.dumps({"d": i}).encode(),
                        {"X-Amz-Invocation-Type": "Event"}, ok=(202,))
            rid = resp.getheader("x-amzn-RequestId")
            deadline = time.monotonic() + 10
            while True:
                ev = events.get_event(r, rid) or {}
                if ev.get("state") == "done":
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"event {rid} did not finish")
                time.sleep(0.001)
            delays.append((float(ev["first_started"]) - float(ev["accepted"])) * 1000)
            time.sleep(0.01)
        failed = sum(1 for k in r.scan_iter("lamina:ev:*", count=1000)
                     if r.hget(k, "condition") not in (None, b"Success"))
    finally:
        stop(workers)
        stop(server)
        for c in client.containers.list(all=True, filters={"label": f"lamina.instance={instance}"}):
            c.remove(force=True)
        if redis_proc is not None:
            redis_proc.terminate()
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"\n### lamina async benchmark ({os.cpu_count()} CPUs, {args.workers} worker processes, "
          f"{args.clients} clients, no-op python3.11 function)\n")
    print("| Measure | Value |")
    print("|---|---|")
    print(f"| Events accepted (202) per second, n={args.events} | {accepted_per_s:.0f} |")
    print(f"| Events completed per second (backlog of {n}) | {completed_per_s:.0f} |")
    print(f"| Acceptance-to-start delay p50 / p99, idle workers, n={len(delays)} | "
          f"{pct(delays, 0.5):.2f} / {pct(delays, 0.99):.2f} ms |")
    print(f"| Events not ending in Success | {failed} |")


if __name__ == "__main__":
    main()
