"""Benchmark (not a test): lamina over several Docker hosts (issue 17), beside one-host lamina in the same run.

The fleet is tests/support/fleet.py's: three engines in network namespaces of this machine, three `lamina
node`s, an API placing on them (its environments are on another host: reached routed through that host's
address). The baseline is `lamina serve` with its environments on this host's own engine.

Rows: warm invoke p50 (keep-alive HTTP client and boto3, no-op at 128 MB) and cold p50 (a new function's
first invoke), same host against another host; 8 boto3 clients; a burst of 32 boto3 clients on a 0.5 s
function with no environment; invokes per second of 8 clients with 1, 2 and 3 nodes placeable (the engines
share this machine's cores: spread and overhead, not speed-up); time from a host's death to its take-out.

    python bench/fleet.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import invoke as bench  # noqa: E402
from common import pct  # noqa: E402
from lamina.scheduler import keys  # noqa: E402
from support.fleet import GATEWAY, Fleet  # noqa: E402
from users import boto3_throughput, boto3_warm  # noqa: E402

from runtimes import zipped  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
HALF_SECOND = "import time\n\ndef handler(event, context):\n    time.sleep(0.5)\n    return None\n"
ROLE = "arn:aws:iam::000000000000:role/bench"


class Client:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        self.conn.request(method, path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status not in (200, 201, 202):
            raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
        return data

    def create(self, name: str, code: str = NOOP) -> None:
        self.call("POST", "/2015-03-31/functions", json.dumps({
            "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler", "Role": ROLE,
            "MemorySize": 128, "Code": {"ZipFile": zipped({"app.py": code})}}).encode())

    def invoke_ms(self, name: str) -> float:
        t0 = time.perf_counter()
        self.call("POST", f"/2015-03-31/functions/{name}/invocations", b"{}")
        return (time.perf_counter() - t0) * 1000


def warm_and_cold(client: Client, n_warm: int, n_cold: int) -> tuple[float, float]:
    name = f"noop-{uuid.uuid4().hex[:6]}"
    client.create(name)
    for _ in range(20):
        client.invoke_ms(name)
    warm = pct([client.invoke_ms(name) for _ in range(n_warm)], 0.5)
    colds = []
    for i in range(n_cold):
        fresh = f"cold-{uuid.uuid4().hex[:6]}-{i}"
        client.create(fresh)
        colds.append(client.invoke_ms(fresh))
    return warm, pct(colds, 0.5)


def throughput(host: str, port: int, token: str, name: str, clients: int, seconds: float) -> float:
    counts = [0] * clients
    start = time.monotonic() + 0.5

    def run(i: int) -> None:
        c = Client(host, port, token)
        c.invoke_ms(name)
        while time.monotonic() < start:
            time.sleep(0.01)
        while time.monotonic() < start + seconds:
            c.invoke_ms(name)
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def burst(endpoint: str, key: str, name: str, count: int) -> float:
    """``count`` boto3 clients invoke ``name`` (no environment yet) at once; seconds until all answered."""
    from users import _boto3_client

    clients = [_boto3_client(endpoint, key) for _ in range(count)]
    barrier = threading.Barrier(count + 1)

    def one(c: object) -> None:
        barrier.wait()
        c.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()  # type: ignore[attr-defined]

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def spread(fleet: Fleet, name: str) -> Counter[str]:
    r = fleet.redis()
    out: Counter[str] = Counter()
    for env_id in r.smembers(keys.all_envs()):
        f = {k.decode(): v.decode() for k, v in r.hgetall(keys.env(env_id.decode())).items()}
        if f.get("function") == name:
            out[f.get("node", "?")] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_warm, n_cold, seconds = (300, 5, 3.0) if args.quick else (1000, 10, 5.0)
    rows: list[tuple[str, str, str]] = []
    with bench.served("lamina-bench-fleet-", ["python3.11"], workers=1, threads=32) as lam:
        local = Client("127.0.0.1", lam.api.port, str(bench.TOKEN))
        local_warm, local_cold = warm_and_cold(local, n_warm, n_cold)
        local.create("tput")
        local_rate = throughput("127.0.0.1", lam.api.port, str(bench.TOKEN), "tput", 8, seconds)
        endpoint = f"http://127.0.0.1:{lam.api.port}"
        local_boto3 = pct(boto3_warm(endpoint, str(bench.TOKEN), "tput", n_warm), 0.5)
        local_boto3_rate = boto3_throughput(endpoint, str(bench.TOKEN), "tput", 8, seconds)
        local.create("burst", HALF_SECOND)
        local_burst = burst(endpoint, str(bench.TOKEN), "burst", 32)
    print("same-host rows done", file=sys.stderr)
    fleet = Fleet(apis=1).start()
    try:
        token = f"{fleet.creds['AccessKeyId']}:{fleet.creds['SecretAccessKey']}"
        port = fleet.api_ports[0]
        remote = Client(GATEWAY, port, token)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        nodes = [h.node_id for h in fleet.hosts]

        def placeable(count: int) -> None:
            for i, node in enumerate(nodes):
                conn = http.client.HTTPConnection(GATEWAY, port, timeout=10)
                conn.request("PUT", f"/lamina/v1/fleet/nodes/{node}/drain",
                             json.dumps({"Draining": i >= count}).encode(), auth)
                conn.getresponse().read()
            time.sleep(1.0)  # the API's node list is read every 0.5 s

        # The same environments on n1, invoked by an API on n1 (same host) and by one here (another host).
        placeable(1)
        near_port = fleet.start_api_on(fleet.hosts[0])
        near = Client(fleet.hosts[0].address, near_port, token)
        near.create("warm-near")
        for _ in range(20):
            near.invoke_ms("warm-near")
        same = pct([near.invoke_ms("warm-near") for _ in range(n_warm)], 0.5)
        other = pct([remote.invoke_ms("warm-near") for _ in range(n_warm)], 0.5)
        assert set(spread(fleet, "warm-near")) == {"n1"}, spread(fleet, "warm-near")
        rows.append(("warm invoke p50, 128 MB no-op, keep-alive HTTP, one fleet", f"{other:.2f} ms from another host",
                     f"{same:.2f} ms from the same host (+{other - same:.2f} ms)"))
        placeable(3)
        for i in range(3):  # every node sees demand for python cells first, as the one-host install did
            remote.create(f"prime-{i}")
            remote.invoke_ms(f"prime-{i}")
        time.sleep(3.0)
        warm, cold = warm_and_cold(remote, n_warm, n_cold)
        rows.append(("warm invoke p50, 128 MB no-op, keep-alive HTTP", f"{warm:.2f} ms (fleet, Redis through "
                     "Sentinel, appendfsync always)", f"{local_warm:.2f} ms one-host install, embedded Redis "
                     f"(+{warm - local_warm:.2f} ms)"))
        rows.append(("cold start p50 (a new function's first invoke)", f"{cold:.0f} ms on another host",
                     f"{local_cold:.0f} ms on the one-host install ({cold / local_cold:.2f}x)"))
        fleet_endpoint = f"http://{GATEWAY}:{port}"
        remote.create("boto3-warm")
        fleet_boto3 = pct(boto3_warm(fleet_endpoint, token, "boto3-warm", n_warm), 0.5)
        rows.append(("warm invoke p50, 128 MB no-op, boto3", f"{fleet_boto3:.2f} ms (fleet)",
                     f"{local_boto3:.2f} ms one-host install ({fleet_boto3 / local_boto3:.2f}x)"))
        fleet_boto3_rate = boto3_throughput(fleet_endpoint, token, "boto3-warm", 8, seconds)
        rows.append(("throughput, 8 boto3 clients (a process each), 128 MB, 3 nodes placeable",
                     f"{fleet_boto3_rate:.0f} invokes/s",
                     f"{local_boto3_rate:.0f}/s one-host install ({fleet_boto3_rate / local_boto3_rate:.2f}x)"))
        remote.create("burst", HALF_SECOND)
        fleet_burst = burst(fleet_endpoint, token, "burst", 32)
        rows.append(("burst: 32 boto3 clients at once, a 0.5 s function with no environment",
                     f"{fleet_burst:.2f} s until all answered, spread {dict(sorted(spread(fleet, 'burst').items()))}",
                     f"{local_burst:.2f} s one-host install ({fleet_burst / local_burst:.2f}x)"))
        for count in (1, 2, 3):
            placeable(count)
            name = f"tput{count}"
            remote.create(name)
            rate = throughput(GATEWAY, port, token, name, 8, seconds)
            where = dict(sorted(spread(fleet, name).items()))
            rows.append((f"throughput, 8 clients, {count} node(s) placeable", f"{rate:.0f} invokes/s",
                         f"environments per node {where}; same host {local_rate:.0f}/s"))
        victim = fleet.hosts[-1]
        t0 = time.monotonic()
        fleet.kill_host(victim)
        while victim.node_id in fleet.live_nodes() or spread(fleet, "tput3").get(victim.node_id):
            time.sleep(0.05)
        rows.append(("a dead host taken out (environments forgotten)", f"{time.monotonic() - t0:.1f} s",
                     f"heartbeat TTL {fleet.env()['LAMINA_NODE_TTL']} s, heartbeat every 1 s"))
    finally:
        fleet.stop()
    print("\n| Measure | Fleet | Baseline in this run |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


if __name__ == "__main__":
    main()
