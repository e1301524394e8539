"""Benchmark (not a test): lamina as users meet it (issue 14), each figure beside a baseline of the same run.

Rows, with a no-op Python function unless said otherwise:
  * warm invoke p50 at MemorySize 128 and 1769 through a keep-alive HTTP client, with the CPU each invoke
    costs inside the container (from the cgroup: the agent's and the function's processes apart);
  * warm invoke p50 with boto3 at 128 MB, and throughput of 8 boto3 clients (one process each);
    baseline: SAM CLI local (EAGER) with the same client and function, when ``--sam URL`` is given
    (``../shared/peers``: start ``sam local start-lambda`` and pass its endpoint);
  * cold start p50 / p99 of a new 128 MB function and of an existing one with no environment, beside
    ``docker run --rm`` of the runtime image;
  * bursts: 32 concurrent invokes of a 0.5 s function with one environment warm (time until all answered),
    64 concurrent first invokes of a 0.5 s function with none (p99), 100 new functions invoked once by 8
    clients (functions per second);
  * density: host memory per frozen environment (the containers' cgroup usage, and their processes' RSS);
  * ``Max Memory Used`` of a Node.js no-op at 128 MB beside its processes' RSS.

    eval "$(scripts/services.sh docker)"; python bench/users.py [--quick] [--sam http://127.0.0.1:3001]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import invoke as bench
from common import docker_runs, pct
from lamina.executor.images import image_for_runtime

from runtimes import zipped

ROLE = "arn:aws:iam::000000000000:role/bench"
NOOP = "def handler(event, context):\n    return None\n"
SLEEP = "import time\n\n\ndef handler(event, context):\n    time.sleep(0.5)\n    return None\n"
NODE_NOOP = "exports.handler = async () => null;\n"
CGROUP = Path("/sys/fs/cgroup")


def create(api: bench.Api, name: str, memory: int = 128, code: str = NOOP, runtime: str = "python3.11",
           handler: str = "app.handler") -> None:
    files = {"index.js" if runtime.startswith("nodejs") else "app.py": code}
    body = {"FunctionName": name, "Role": ROLE, "Runtime": runtime, "Handler": handler, "MemorySize": memory,
            "Timeout": 30, "Code": {"ZipFile": zipped(files)}}
    api.call("POST", "/2015-03-31/functions", json.dumps(body).encode(), ok=(201,))


def invoke_ms(api: bench.Api, name: str, tail: bool = False) -> tuple[float, str]:
    """One invoke; (latency ms, its REPORT line when ``tail``)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bench.TOKEN}"}
    if tail:
        headers["X-Amz-Log-Type"] = "Tail"
    t0 = time.perf_counter()
    api.conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}", headers=headers)
    resp = api.conn.getresponse()
    resp.read()
    took = (time.perf_counter() - t0) * 1000
    if resp.status != 200:
        raise SystemExit(f"invoke {name}: HTTP {resp.status}")
    logs = base64.b64decode(resp.getheader("X-Amz-Log-Result") or "").decode()
    return took, next((line for line in logs.splitlines() if line.startswith("REPORT")), "")


def container_of(lam: Any, name: str) -> str:
    return next(e.container_id for e in lam.pool.snapshot().envs if e.function_name == name)


def _proc_cpu_s(pid: str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(cid: str) -> tuple[float, float, float]:
    """(container, agent, function) CPU-seconds so far: cpuacct, and its processes by cgroup."""
    total = int((CGROUP / "cpuacct" / "docker" / cid / "cpuacct.usage").read_text()) / 1e9
    base = CGROUP / "cpu" / "docker" / cid
    agent = sum(_proc_cpu_s(p) for p in (base / "cgroup.procs").read_text().split())
    child = base / "function" / "cgroup.procs"
    function = sum(_proc_cpu_s(p) for p in child.read_text().split()) if child.exists() else 0.0
    return total, agent, function


def warm_row(lam: Any, name: str, memory: int, n: int) -> dict[str, float]:
    create(lam.api, name, memory)
    for _ in range(50):
        invoke_ms(lam.api, name)
    time.sleep(0.3)  # the init boost has ended; the share applies
    cid = container_of(lam, name)
    before = cpu_split(cid)
    took = [invoke_ms(lam.api, name)[0] for _ in range(n)]
    after = cpu_split(cid)
    used = [(a - b) / n * 1000 for a, b in zip(after, before, strict=True)]
    return {"p50": pct(took, 0.5), "p99": pct(took, 0.99), "cpu_ms": used[0], "agent_ms": used[1],
            "function_ms": used[2]}


def _boto3_client(endpoint: str, key: str) -> Any:
    import boto3
    from botocore.config import Config

    key_id, _, secret = key.partition(":")
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, read_timeout=60, max_pool_connections=4))


def boto3_warm(endpoint: str, key: str, name: str, n: int) -> list[float]:
    client = _boto3_client(endpoint, key)
    for _ in range(20):
        client.invoke(FunctionName=name, Payload=b"{}")
    took = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        took.append((time.perf_counter() - t0) * 1000)
    return took


def _boto3_worker(endpoint: str, key: str, name: str, start: float, seconds: float, out: Any) -> None:
    client = _boto3_client(endpoint, key)
    client.invoke(FunctionName=name, Payload=b"{}")  # its own environment, warm
    while time.time() < start:
        time.sleep(0.001)
    done = 0
    while time.time() < start + seconds:
        client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        done += 1
    out.put(done)


def boto3_throughput(endpoint: str, key: str, name: str, clients: int, seconds: float) -> float:
    out: Any = mp.Queue()
    start = time.time() + 3.0
    procs = [mp.Process(target=_boto3_worker, args=(endpoint, key, name, start, seconds, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def concurrent(port: int, names: list[str]) -> list[float]:
    """Invoke each of ``names`` at once, each on its own connection; latencies in s."""
    took = [0.0] * len(names)
    barrier = threading.Barrier(len(names))

    def one(i: int) -> None:
        api = bench.Api(port)
        barrier.wait()
        took[i] = invoke_ms(api, names[i])[0] / 1000

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return took


def drain(items: list[Any], work: Callable[[Any, Any], None], workers: int, setup: Callable[[], Any]) -> float:
    """Run ``work(state, item)`` for every item on ``workers`` threads (each with its own ``setup()``
    state, e.g. a connection); return the seconds it took."""
    todo = list(items)
    lock = threading.Lock()

    def worker() -> None:
        state = setup()
        while True:
            with lock:
                if not todo:
                    return
                item = todo.pop()
            work(state, item)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def new_functions_rate(lam: Any, count: int, clients: int) -> float:
    names = [f"fresh-{i}" for i in range(count)]
    for name in names:
        create(lam.api, name)
    took = drain(names, lambda api, name: invoke_ms(api, name), clients, lambda: bench.Api(lam.api.port))
    return count / took


def creation_rate(lam: Any, count: int, parallel: int) -> float:
    """Containers a second Docker creates and starts with lamina's full container spec (a stem cell's)."""
    import uuid

    from lamina.executor.docker_env import DockerEnv
    from lamina.scheduler import cells
    from lamina.scheduler.environments import Environments

    envs = Environments(lam.settings, lam.pool, lambda: lam.client, lambda key: Path(key), sandboxes=0)
    docker_env = DockerEnv(lam.client)
    made: list[str] = []

    def start(_state: Any, _item: Any) -> None:
        made.append(docker_env.start(cells.template(envs, "python", uuid.uuid4().hex)).container_id)

    took = drain(list(range(count)), start, parallel, lambda: None)
    for cid in made:
        docker_env.remove(cid)
    return count / took


def settle_cells(lam: Any, family: str = "python", timeout_s: float = 30.0) -> int:
    """Let the stem-cell pool refill after the last rows' cold starts (its steady state); return its size."""
    deadline = time.monotonic() + timeout_s
    last, still = -1, 0
    while time.monotonic() < deadline:
        now = len(lam.pool.free_cells(family))
        still = still + 1 if now == last else 0
        if still >= 6:  # unchanged for 3 s: refilled to its target
            break
        last = now
        time.sleep(0.5)
    return len(lam.pool.free_cells(family))


def density(lam: Any, count: int) -> tuple[float, float]:
    """(cgroup memory MiB, processes' RSS MiB) per frozen environment, over ``count`` environments."""
    for i in range(count):
        create(lam.api, f"idle-{i}")
        invoke_ms(lam.api, f"idle-{i}")
    frozen = lam.reaper.__class__(lam.pool, lam.reaper.docker, lam.reaper.instance, freeze_after_s=0.0,
                                  idle_timeout_s=7200)
    frozen.tick()
    cids = [e.container_id for e in lam.pool.snapshot().envs if e.function_name.startswith("idle-")]
    usage = rss = 0.0
    for cid in cids:
        usage += int((CGROUP / "memory" / "docker" / cid / "memory.usage_in_bytes").read_text()) / 2**20
        stat_file = CGROUP / "memory" / "docker" / cid / "memory.stat"
        stat = dict(line.split() for line in stat_file.read_text().splitlines())
        rss += (int(stat["rss"]) + int(stat.get("mapped_file", 0))) / 2**20
    return usage / len(cids), rss / len(cids)


def node_memory(lam: Any) -> tuple[int, float]:
    """(Max Memory Used MB of a Node.js no-op at 128 MB, its function processes' RSS MiB)."""
    create(lam.api, "node-noop", 128, NODE_NOOP, "nodejs18.x", "index.handler")
    invoke_ms(lam.api, "node-noop")
    _took, report = invoke_ms(lam.api, "node-noop", tail=True)
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    cid = container_of(lam, "node-noop")
    pids = (CGROUP / "cpu" / "docker" / cid / "function" / "cgroup.procs").read_text().split()
    rss = 0.0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) / 1024
    return used, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sam", help="the endpoint of a running `sam local start-lambda` (noop function)")
    args = parser.parse_args()
    n_warm, n_cold, n_fresh, n_idle = (200, 6, 40, 20) if args.quick else (1000, 20, 100, 50)
    rows: list[tuple[str, str, str]] = []
    with bench.served("lamina-bench-users-", ["python3.11", "nodejs18.x"], workers=2, threads=64) as lam:
        endpoint = f"http://127.0.0.1:{lam.api.port}"
        key = str(bench.TOKEN)
        w128 = warm_row(lam, "noop", 128, n_warm)
        w1769 = warm_row(lam, "noop-1769", 1769, n_warm)
        rows.append(("warm invoke p50 at 128 MB, keep-alive HTTP client", f"{w128['p50']:.1f} ms",
                     f"{w1769['p50']:.1f} ms at 1769 MB ({w128['p50'] / w1769['p50']:.2f}x)"))
        rows.append(("CPU per warm invoke inside the container, 128 MB (agent + function)",
                     f"{w128['cpu_ms']:.2f} ms ({w128['agent_ms']:.2f} + {w128['function_ms']:.2f})",
                     f"{w1769['cpu_ms']:.2f} ms at 1769 MB ({w1769['agent_ms']:.2f} + {w1769['function_ms']:.2f})"))
        print("warm rows done", file=sys.stderr)
        b3 = boto3_warm(endpoint, key, "noop", n_warm)
        sam_warm = sam_rate = None
        if args.sam:
            sam_warm = pct(boto3_warm(args.sam, "x:x", "noop", n_warm), 0.5)
        rows.append(("warm invoke p50, boto3, 128 MB", f"{pct(b3, 0.5):.1f} ms",
                     f"SAM CLI local (EAGER) {sam_warm:.1f} ms ({sam_warm / pct(b3, 0.5):.1f}x lamina's)"
                     if sam_warm else "SAM CLI not run (--sam)"))
        rate = boto3_throughput(endpoint, key, "noop", 8, 5.0)
        if args.sam:
            sam_rate = boto3_throughput(args.sam, "x:x", "noop", 8, 5.0)
        rows.append(("throughput, 8 boto3 clients, 128 MB", f"{rate:.0f} invokes/s",
                     f"SAM CLI local {sam_rate:.0f}/s ({rate / sam_rate:.0f}x)" if sam_rate else "SAM CLI not run"))
        print("boto3 rows done", file=sys.stderr)

        baseline = docker_runs(lam.client, image_for_runtime(lam.settings, "python3.11"), ["python3", "-c", "pass"],
                               n_cold)
        first = []
        for i in range(n_cold):
            lam.reaper.tick()
            create(lam.api, f"new-{i}")
            first.append(invoke_ms(lam.api, f"new-{i}")[0])
        bench.NAME = "noop"
        joined, others = bench.cold_starts(lam.api, lam.reaper, lam.pool, n_cold, sandbox=True)
        again = joined + others  # a network sandbox, or a stem cell (which has its own network)
        b50 = pct(baseline, 0.5)
        rows.append(("first invoke of a new 128 MB function, p50 / p99",
                     f"{pct(first, 0.5):.0f} / {pct(first, 0.99):.0f} ms",
                     f"`docker run --rm` {b50:.0f} ms ({pct(first, 0.5) / b50:.2f}x)"))
        rows.append(("invoke of an existing 128 MB function with no environment, p50 / p99",
                     f"{pct(again, 0.5):.0f} / {pct(again, 0.99):.0f} ms",
                     f"({pct(again, 0.5) / b50:.2f}x docker run)"))
        print("cold rows done", file=sys.stderr)

        create(lam.api, "sleepy", code=SLEEP)
        invoke_ms(lam.api, "sleepy")
        ready = settle_cells(lam)
        t0 = time.perf_counter()
        concurrent(lam.api.port, ["sleepy"] * 32)
        rows.append(("32 concurrent invokes of a 0.5 s function, one environment warm",
                     f"{time.perf_counter() - t0:.1f} s until all answered", f"ideal about 1 s ({ready} cells ready)"))
        create(lam.api, "burst64", code=SLEEP)
        lam.reaper.tick()
        ready = settle_cells(lam)
        burst = concurrent(lam.api.port, ["burst64"] * 64)
        rows.append(("64 concurrent first invokes of a 0.5 s function, p50 / p99",
                     f"{pct(burst, 0.5):.1f} / {pct(burst, 0.99):.1f} s",
                     f"target p99 <= 3.0 s (2.5 s beyond the handler); {ready} cells ready"))
        serial, parallel = creation_rate(lam, 12, 1), creation_rate(lam, 24, 8)
        rows.append(("Docker's create + start of lamina's container, serial / 8 in parallel",
                     f"{serial:.1f} / {parallel:.1f} per second",
                     "what environment creation beyond the pools is bound by"))
        ready = settle_cells(lam)
        fresh = new_functions_rate(lam, n_fresh, 8)
        rows.append((f"{n_fresh} new functions invoked once, 8 clients", f"{fresh:.1f} per second",
                     f"target >= 20/s; {ready} cells ready"))
        print("burst rows done", file=sys.stderr)
        per_env, per_rss = density(lam, n_idle)
        rows.append((f"host memory per idle (frozen) environment, {n_idle} environments",
                     f"{per_env:.1f} MiB (cgroup)", f"its processes' RSS {per_rss:.1f} MiB; target <= 10 MiB"))
        used, rss = node_memory(lam)
        rows.append(("`Max Memory Used` of a Node.js no-op at 128 MB", f"{used} MB",
                     f"its function processes' RSS {rss:.0f} MiB"))

    print(f"\n### As users meet it (`bench/users.py`, {os.cpu_count()} CPUs)\n")
    print("| Measure | lamina | Baseline in the same run |")
    print("|---|---|---|")
    for measure, value, baseline_text in rows:
        print(f"| {measure} | {value} | {baseline_text} |")


if __name__ == "__main__":
    main()
