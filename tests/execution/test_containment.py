"""Containment (issue 5, item 6): a memory hog and a busy loop are held to their own limits and do not stop a
neighbouring function from answering. The fork bomb is in test_isolation.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

HOG = """
def handler(event, context):
    if event.get("warm"):
        return "warm"
    chunks = []
    while True:  # 16 MB at a time, far past its 128 MB
        chunks.append(bytearray(16 * 1024 * 1024))
"""

BUSY = """
import multiprocessing, os, time


def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def handler(event, context):
    seconds = event.get("seconds", 0)
    before = os.times()
    procs = [multiprocessing.Process(target=spin, args=(seconds,)) for _ in range(4)]
    for p in procs:
        p.start()
    spin(seconds)
    for p in procs:
        p.join()
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    cpu += (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"cpu_s": cpu, "wall_s": seconds}
"""

NEIGHBOUR = "def handler(event, context):\n    return 'still here'\n"


def _while(background: Callable[[], Any]) -> tuple[list[Any], threading.Thread]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(background()))
    thread.start()
    return out, thread


def _neighbour_latencies(client: Any, until: threading.Thread, at_most: int = 40) -> list[float]:
    took: list[float] = []
    while until.is_alive() and len(took) < at_most:
        t0 = time.monotonic()
        resp = invoke(client, "neighbour")
        took.append(time.monotonic() - t0)
        assert resp.status_code == 200 and resp.get_json() == "still here"
        time.sleep(0.05)
    return took


def test_a_memory_hog_is_killed_and_its_neighbour_keeps_answering(client: Any, fns: Functions, sandbox: str,
                                                                  neighbour: Neighbour) -> None:
    fns.create("hog", {"app.py": HOG}, memory=128, timeout=30, isolation=sandbox)
    fns.create("neighbour", {"app.py": NEIGHBOUR})
    assert invoke(client, "neighbour").status_code == 200  # warm
    app = client.application
    assert invoke(client, "hog", {"warm": 1}).status_code == 200
    with neighbour.watching():
        out, thread = _while(lambda: invoke(app.test_client(), "hog"))
        took = _neighbour_latencies(client, thread)
        thread.join()
    neighbour.assert_unharmed()
    hog = out[0]
    assert hog.status_code == 200 and hog.headers["X-Amz-Function-Error"] == "Unhandled"
    assert hog.get_json()["errorType"] == "Runtime.ExitError", hog.get_json()
    assert took and max(took) < 2.0, took


def test_a_busy_loop_gets_its_cpu_share_and_its_neighbour_keeps_answering(
    client: Any, fns: Functions, invoker: Invoker, docker_client: Any, sandbox: str, neighbour: Neighbour,
) -> None:
    fns.create("busy", {"app.py": BUSY}, memory=128, timeout=30, isolation=sandbox)
    fns.create("neighbour", {"app.py": NEIGHBOUR})
    assert invoke(client, "busy", {"seconds": 0}).status_code == 200  # cold start; then its CPU limit applies
    [busy] = [e for e in invoker.pool.snapshot().envs if e.function_name == "busy"]
    cid = invoker.pool.env(busy.env_id)["container"]
    deadline = time.monotonic() + 10
    while invoker.environments.boosted(cid) and time.monotonic() < deadline:  # the init boost ends
        time.sleep(0.05)
    assert not invoker.environments.boosted(cid)
    assert invoke(client, "neighbour").status_code == 200  # warm
    app = client.application
    cpu_before, started = _host_cpu_s(cid), time.monotonic()
    with neighbour.watching():
        out, thread = _while(lambda: invoke(app.test_client(), "busy", {"seconds": 4}))
        took = _neighbour_latencies(client, thread)
        thread.join()
    neighbour.assert_unharmed()
    busy_out = out[0].get_json()
    # Five spinning processes for 4 s would take ~8 CPU-seconds of the host's two cores; at 128 MB the
    # function's share is 128/1769 of one vCPU (~0.3 CPU-seconds in 4 s). Read on the host, from the
    # container's cgroup: gVisor's guest clock counts a throttled sentry's time as the function's.
    assert busy_out["wall_s"] == 4
    # The share holds over the whole invoke, however long starting five processes took (under gVisor at
    # 7 % of a core, seconds): CPU used <= share x wall time, with room for the CFS period's rounding.
    used, wall = _host_cpu_s(cid) - cpu_before, time.monotonic() - started
    assert used < 1.0 or used <= 128 / 1769 * wall * 1.3, (busy_out, used, wall)
    assert took and max(took) < 1.0, took


def _host_cpu_s(cid: str) -> float:
    """CPU-seconds the container has used, from its cgroup on this host (v1 cpuacct or v2 cpu.stat)."""
    v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
    if v1.exists():
        return int(v1.read_text()) / 1e9
    stat = Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat").read_text()
    return int(dict(line.split() for line in stat.splitlines())["usage_usec"]) / 1e6


SPAWNER = """
import os, subprocess
children = []


def handler(event, context):
    if event.get("spawn"):
        children.append(subprocess.Popen(["sleep", "30"]))
    return {"pid": os.getpid(), "children": [c.pid for c in children]}
"""


def test_the_function_gets_its_cpu_share_and_the_agent_does_not_spend_it(
    client: Any, fns: Functions, invoker: Invoker, docker_client: Any,
) -> None:
    """Lambda's share is the function's own: its processes (and what they start later) share a child
    cgroup limited to it; the agent relaying invokes and logs sits beside it, under the container's limit."""
    from lamina.executor.docker_env import CGROUP_ROOT, FUNCTION_CGROUP, MB_PER_VCPU

    fns.create("spawner", {"app.py": SPAWNER}, memory=256)
    assert invoke(client, "spawner", {}).status_code == 200  # cold; the share applies after this invoke
    [env] = [e for e in invoker.pool.snapshot().envs if e.function_name == "spawner"]
    cid = invoker.pool.env(env.env_id)["container"]
    parent = CGROUP_ROOT / "cpu" / "docker" / cid
    child = parent / FUNCTION_CGROUP
    def moved() -> bool:  # the boost's end, in the background: the runtime's processes leave the parent
        try:
            return (child / "cgroup.procs").read_text().strip() != "" and not any(
                _uid(p) == 993 for p in (parent / "cgroup.procs").read_text().split())
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while not moved() and time.monotonic() < deadline:
        time.sleep(0.05)
    spawned = invoke(client, "spawner", {"spawn": True}).get_json()
    quota = int((child / "cpu.cfs_quota_us").read_text()) / int((child / "cpu.cfs_period_us").read_text())
    assert abs(quota - 256 / MB_PER_VCPU) < 0.01, quota
    in_child = set((child / "cgroup.procs").read_text().split())
    in_parent = set((parent / "cgroup.procs").read_text().split())
    uids = {pid: _uid(pid) for pid in in_child | in_parent}
    assert in_child and all(uids[p] == 993 for p in in_child), uids  # the runtime and its children
    assert in_parent and all(uids[p] != 993 for p in in_parent), uids  # the agent
    # The process the handler started after the split is in the function's cgroup too (by its host pid:
    # the container's own pid namespace numbers differ, so match on the command).
    assert len(spawned["children"]) == 1
    assert any(Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"sleep\0") for p in in_child), in_child


def _uid(pid: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return -1
