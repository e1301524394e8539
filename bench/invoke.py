"""Benchmark (not a test): a no-op Python function through lamina's real API on gunicorn (gthread).

Reports, beside baselines measured in the same run:
  * cold start p50/p99: the function's configuration is changed before each run (a new revision, so a
    new environment), then one invoke is timed;  baseline: ``docker run --rm`` of the same image to exit
    (Docker SDK and CLI);
  * warm invoke p50/p99 through the API (sequential, one keep-alive connection);  baseline: a direct
    HTTP call to the same warm environment's agent, with the same headers;
  * sustained throughput with 1, 8, 16 and 32 concurrent clients (one process each, keep-alive connections;
    each client warms up with its own environment first, then all measure the same window).
and prints a markdown table with the targets of issue 3.

    eval "$(scripts/services.sh docker)"; python bench/invoke.py [--memory 1769] [--quick]

Self-contained: uses LAMINA_REDIS_URL / LAMINA_DATABASE_URL when set, otherwise an embedded redis-server
and a SQLite file under a temporary LAMINA_DATA_DIR. Everything it starts is removed at the end.
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
import socket
import statistics
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import redis
from common import bench_install, credentials, pct, wait_health
from lamina.config import Settings
from lamina.executor.docker_env import DockerEnv
from lamina.executor.images import base_image_tag, ensure_images, image_for_runtime
from lamina.scheduler.pool import Pool
from lamina.scheduler.reaper import Reaper

NAME = "bench-noop"
HANDLER = "def handler(event, context):\n    return None\n"


TOKEN: str | None = None  # "<AccessKeyId>:<SecretAccessKey>" once the API asks for credentials


class Api:
    """Minimal keep-alive client for the Lambda API paths."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: bytes | None = None, ok: tuple[int, ...] = (200, 201)) -> bytes:
        headers = {"Content-Type": "application/json"}
        if TOKEN:
            headers["Authorization"] = f"Bearer {TOKEN}"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status not in ok:
            raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
        return data

    def invoke(self) -> float:
        t0 = time.perf_counter()
        self.call("POST", f"/2015-03-31/functions/{NAME}/invocations", b"{}")
        return (time.perf_counter() - t0) * 1000


def start_server(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lamina", "serve", "--workers", str(workers), "--threads", str(threads)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(Path(env["LAMINA_DATA_DIR"]) / "server.log", "wb"),
    )
    wait_health(port, proc, Path(env["LAMINA_DATA_DIR"]) / "server.log")
    return proc


@dataclass
class Served:
    """A throw-away lamina on gunicorn for one benchmark run, and the scheduler's view of it."""

    env: dict[str, str]
    settings: Settings
    client: docker.DockerClient
    api: Api
    pool: Pool
    reaper: Reaper


@contextmanager
def served(prefix: str, runtimes: list[str], workers: int = 2, threads: int = 64) -> Iterator[Served]:
    """Build the images of ``runtimes``, start lamina (API on gunicorn, an admin key), and remove everything
    it made at the end: containers, the embedded redis-server, the data directory."""
    global TOKEN
    data_dir, env, redis_proc, port = bench_install(prefix)
    settings = Settings.from_env(env)
    client = docker.from_env(timeout=300)
    ensure_images(client, settings, runtimes, log=lambda m: print(m, file=sys.stderr))
    server = None
    try:
        server = start_server(env, port, workers, threads)
        TOKEN = credentials(env)
        pool = Pool(redis.Redis.from_url(env["LAMINA_REDIS_URL"]))
        reaper = Reaper(pool, DockerEnv(client), env["LAMINA_INSTANCE"], freeze_after_s=3600, idle_timeout_s=7200,
                        sandboxes=settings.sandboxes, sandbox_image=base_image_tag(settings),
                        network=settings.docker_network)
        yield Served(env, settings, client, Api(port), pool, reaper)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        for c in client.containers.list(all=True, filters={"label": f"lamina.instance={env['LAMINA_INSTANCE']}"}):
            c.remove(force=True)
        if redis_proc is not None:
            redis_proc.terminate()
        shutil.rmtree(data_dir, ignore_errors=True)


def create_function(api: Api, memory: int) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", HANDLER)
    body = {"FunctionName": NAME, "Role": "arn:aws:iam::000000000000:role/bench", "Runtime": "python3.11",
            "Handler": "app.handler", "MemorySize": memory, "Timeout": 10,
            "Code": {"ZipFile": base64.b64encode(buf.getvalue()).decode()}}
    api.call("POST", "/2015-03-31/functions", json.dumps(body).encode(), ok=(201,))


def docker_run_baseline(client: docker.DockerClient, image: str, n: int) -> tuple[list[float], list[float]]:
    sdk, cli = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        client.containers.run(image, entrypoint=["python3", "-c", "pass"], remove=True, labels={"lamina.bench": "1"})
        sdk.append((time.perf_counter() - t0) * 1000)
    docker_bin = shutil.which("docker")
    if docker_bin:
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run([docker_bin, "run", "--rm", "--entrypoint", "python3", image, "-c", "pass"],
                           check=True, stdout=subprocess.DEVNULL)
            cli.append((time.perf_counter() - t0) * 1000)
    return sdk, cli


def cold_starts(api: Api, reaper: Reaper, pool: Pool, n: int, sandbox: bool) -> tuple[list[float], list[float]]:
    """``n`` cold starts; return (latencies of those that joined a ready sandbox, of those that did not)."""
    joined: list[float] = []
    bridge: list[float] = []
    for i in range(n):
        reaper.tick()  # retire the previous revision's environment; top the sandboxes up (untimed)
        if not sandbox:
            reaper._remove(*pool.take_all_sandboxes())
        # A configuration change is a new revision: the next invoke needs a new environment.
        api.call("PUT", f"/2015-03-31/functions/{NAME}/configuration",
                 json.dumps({"Environment": {"Variables": {"RUN": f"{sandbox}-{i}"}}}).encode())
        took = api.invoke()
        newest = max(pool.snapshot().envs, key=lambda e: e.last_used)
        (joined if newest.sandbox_id else bridge).append(took)
    reaper.tick()
    return joined, bridge


def direct_calls(address: str, n: int) -> list[float]:
    """POST /invoke straight to the agent, with the headers the platform sends."""
    conn = http.client.HTTPConnection(address, 8080, timeout=30)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for i in range(n):
        headers = {
            "Lambda-Runtime-Aws-Request-Id": str(uuid.uuid4()),
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 10) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:000000000000:function:{NAME}",
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            "X-Lamina-Version": "$LATEST", "X-Lamina-Timeout-S": "10", "Content-Type": "application/json",
        }
        t0 = time.perf_counter()
        conn.request("POST", "/invoke", body=b"{}", headers=headers)
        resp = conn.getresponse()
        resp.read()
        samples.append((time.perf_counter() - t0) * 1000)
        if resp.getheader("X-Lamina-Outcome") != "success":
            raise SystemExit(f"direct invoke failed: {resp.getheader('X-Lamina-Outcome')}")
        del i
    conn.close()
    return samples


def _client(port: int, barrier: Any, stop_in_s: float, out: Any) -> None:
    api = Api(port)
    lat: list[float] = []
    errors = 0
    for _ in range(WARMUP_INVOKES):  # warm-up: each client's cold start happens here
        try:
            api.invoke()
        except SystemExit:
            errors += 1
            api = Api(port)
    barrier.wait()  # everybody warm: the measured window starts together
    stop_at = time.time() + stop_in_s
    while time.time() < stop_at:
        try:
            lat.append(api.invoke())
        except SystemExit:
            errors += 1
            api = Api(port)
    out.put((lat, errors))


WARMUP_INVOKES = 20


def throughput(port: int, clients: int, duration_s: float) -> tuple[float, float, float, int]:
    """Sustained warm throughput: every client first makes WARMUP_INVOKES calls (so N clients have their N
    environments), then all measure for ``duration_s`` together."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    barrier = ctx.Barrier(clients)
    procs = [ctx.Process(target=_client, args=(port, barrier, duration_s, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    lat: list[float] = []
    errors = 0
    for _ in procs:
        got, err = out.get()
        lat.extend(got)
        errors += err
    for p in procs:
        p.join()
    return len(lat) / duration_s, pct(lat, 0.5), pct(lat, 0.99), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=1769, help="MemorySize of the function (1769 = 1 vCPU)")
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.cold, args.warm, args.duration = 5, 300, 2.0

    with served("lamina-bench-", ["python"], args.workers, args.threads) as lam:
        api, pool, reaper, port = lam.api, lam.pool, lam.reaper, lam.api.port
        print("baseline: docker run --rm ...", file=sys.stderr)
        run_sdk, run_cli = docker_run_baseline(lam.client, image_for_runtime(lam.settings, "python3.11"), args.cold)
        create_function(api, args.memory)
        reaper._remove(*pool.take_all_sandboxes())
        first = api.invoke()  # first ever: extracts the code too
        print("cold starts ...", file=sys.stderr)
        cold_box, cold_bridge = cold_starts(api, reaper, pool, args.cold, sandbox=True)
        more_box, more_bridge = cold_starts(api, reaper, pool, args.cold, sandbox=False)
        cold_box += more_box
        cold_bridge += more_bridge
        for _ in range(300):
            api.invoke()
        print("warm invokes and direct calls ...", file=sys.stderr)
        [view] = [e for e in pool.snapshot().envs if e.state.value == "warm"][:1] or [None]
        if view is None:
            raise SystemExit("no warm environment after warm-up")
        address = pool.env(view.env_id)["address"]
        warm, direct = [], []
        for _ in range(4):  # interleaved blocks, so drift affects both alike
            warm += [api.invoke() for _ in range(args.warm // 4)]
            direct += direct_calls(address, args.warm // 4)
        rows = []
        for c in (1, 8, 16, 32):
            print(f"throughput with {c} clients ...", file=sys.stderr)
            rows.append((c, *throughput(port, c, duration_s=args.duration)))

    def ms(values: list[float]) -> str:
        return f"{pct(values, 0.5):.2f} / {pct(values, 0.99):.2f}"

    w50, d50 = pct(warm, 0.5), pct(direct, 0.5)
    print(f"\n### lamina invoke benchmark ({os.cpu_count()} CPUs, MemorySize {args.memory} MB, "
          f"gunicorn gthread {args.workers}x{args.threads})\n")
    print("| Measure | p50 / p99 (ms) | Target | Met |")
    print("|---|---|---|---|")
    print(f"| `docker run --rm` to exit (Docker SDK), n={len(run_sdk)} | {ms(run_sdk)} | baseline | |")
    if run_cli:
        print(f"| `docker run --rm` to exit (CLI), n={len(run_cli)} | {ms(run_cli)} | baseline | |")
    print(f"| first invoke of a new function (code extracted) | {first:.2f} | | |")
    for label, cold in (("network sandbox ready", cold_box), ("no sandbox ready (bridge)", cold_bridge)):
        if cold:
            print(f"| cold start through the API, {label}, n={len(cold)} | {ms(cold)} | p50 <= docker run (SDK) "
                  f"| {'yes' if pct(cold, 0.5) <= pct(run_sdk, 0.5) else 'no'} |")
    print(f"| direct call to the warm agent, n={len(direct)} | {ms(direct)} | baseline | |")
    print(f"| warm invoke through the API, n={len(warm)} | {ms(warm)} | p50 <= direct + 1.5, p99 < 10 | "
          f"{'yes' if w50 <= d50 + 1.5 and pct(warm, 0.99) < 10 else 'no'} |")
    print(f"| warm overhead of the API (p50 API - p50 direct) | {w50 - d50:.2f} | <= 1.5 | |")
    print()
    print("| Concurrent clients | Invokes/s | p50 / p99 (ms) | Errors | Target |")
    print("|---|---|---|---|---|")
    for c, rate, p50, p99, errors in rows:
        target = ">= 500/s" if c == 16 else ""
        met = (" (met)" if rate >= 500 else " (NOT met)") if c == 16 else ""
        print(f"| {c} | {rate:.0f} | {p50:.2f} / {p99:.2f} | {errors} | {target}{met} |")
    print(f"\nmean warm {statistics.fmean(warm):.2f} ms, mean direct {statistics.fmean(direct):.2f} ms")


if __name__ == "__main__":
    main()
