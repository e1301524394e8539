"""Isolation "gvisor" (issue 12, part 2): a function's environments run under gVisor's runsc, and
everything else keeps working there: the Runtime API, freeze and thaw, memory, CPU and time limits, the
network modes, logs; the account bounds what its functions may ask for."""

from __future__ import annotations

import time
from typing import Any

import docker
from lamina.scheduler import keys
from lamina.services.functions import isolation
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke

PROBE = r'''
import os, platform, socket, time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("hog"):
        chunks = []
        while True:
            chunks.append(bytearray(16 << 20))
    print("hello from", platform.release())
    return {"release": platform.release(), "kernel": open("/proc/version").read(),
            "remaining_ms": context.get_remaining_time_in_millis(), "uid": os.getuid(),
            "hostname": socket.gethostname()}
'''


def _container(invoker: Invoker, name: str) -> str:
    [env] = [e for e in invoker.pool.snapshot().envs if e.function_name == name]
    return invoker.pool.env(env.env_id)["container"]


def test_a_gvisor_function_runs_under_runsc_with_the_runtime_api_and_logs(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient,
) -> None:
    fns.create("under-gvisor", {"app.py": PROBE}, isolation="gvisor", timeout=10)
    resp = invoke(client, "under-gvisor", {}, tail=True)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["release"] == "4.4.0" and out["uid"] != 0, out  # gVisor's kernel answers, not the host's
    assert 0 < out["remaining_ms"] <= 10_000
    cid = _container(invoker, "under-gvisor")
    assert docker_client.api.inspect_container(cid)["HostConfig"]["Runtime"] == "runsc"
    import base64

    tail = base64.b64decode(resp.headers["X-Amz-Log-Result"]).decode()
    assert "hello from 4.4.0" in tail and "REPORT RequestId" in tail, tail
    # Warm: the same environment answers again.
    again = invoke(client, "under-gvisor", {})
    assert again.status_code == 200 and _container(invoker, "under-gvisor") == cid
    # A neighbour without the setting runs under runc.
    fns.create("under-runc", {"app.py": PROBE})
    assert invoke(client, "under-runc", {}).get_json()["release"] != "4.4.0"
    assert docker_client.api.inspect_container(_container(invoker, "under-runc"))["HostConfig"]["Runtime"] == "runc"


def test_gvisor_keeps_freeze_thaw_limits_and_the_cpu_share(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient, reaper_for: Any,
) -> None:
    fns.create("gv-limits", {"app.py": PROBE}, isolation="gvisor", timeout=2, memory=256)
    assert invoke(client, "gv-limits", {}).status_code == 200
    cid = _container(invoker, "gv-limits")
    # The CPU share applies after the (boosted) first invoke, written into the container's cgroup.
    deadline = time.monotonic() + 10
    quota = ""
    while time.monotonic() < deadline:
        quota = _cpu_quota(cid)
        if quota not in ("", "-1"):
            break
        time.sleep(0.1)
    assert quota not in ("", "-1"), quota
    # Freeze and thaw: the reaper pauses the idle environment; the next invoke thaws it.
    reaper_for(freeze_after_s=0.0).tick()
    assert docker_client.api.inspect_container(cid)["State"]["Paused"] is True
    assert invoke(client, "gv-limits", {}).status_code == 200
    assert docker_client.api.inspect_container(cid)["State"]["Paused"] is False
    # The time limit: a 5 s sleep is stopped at 2 s with Lambda's error.
    late = invoke(client, "gv-limits", {"sleep": 5})
    assert late.headers.get("X-Amz-Function-Error") == "Unhandled"
    assert "Task timed out after 2.00 seconds" in late.get_json()["errorMessage"]
    # The memory limit: the environment is killed at MemorySize, as under runc.
    hog = invoke(client, "gv-limits", {"hog": True})
    assert hog.headers.get("X-Amz-Function-Error") == "Unhandled", hog.get_data(as_text=True)
    assert hog.get_json()["errorType"] == "Runtime.ExitError", hog.get_json()
    assert invoke(client, "gv-limits", {}).status_code == 200  # a new environment


def _cpu_quota(cid: str) -> str:
    for path in (f"/sys/fs/cgroup/cpu/docker/{cid}/cpu.cfs_quota_us", f"/sys/fs/cgroup/docker/{cid}/cpu.max"):
        try:
            return open(path).read().split()[0]
        except OSError:
            continue
    return ""


def test_gvisor_without_a_network_answers_over_its_socket(client: Any, fns: Functions, invoker: Invoker) -> None:
    fns.create("gv-offline", {"app.py": PROBE}, isolation="gvisor")
    fns.update_config("gv-offline", vpc={"SubnetIds": ["none"]})
    resp = invoke(client, "gv-offline", {})
    assert resp.status_code == 200 and resp.get_json()["release"] == "4.4.0", resp.get_data(as_text=True)
    [env] = [e for e in invoker.pool.snapshot().envs if e.function_name == "gv-offline"]
    assert invoker.redis.hget(keys.env(env.env_id), "address").decode().startswith("unix:")


def test_changing_the_isolation_retires_warm_environments(client: Any, fns: Functions, invoker: Invoker) -> None:
    fns.create("switches", {"app.py": PROBE})
    assert invoke(client, "switches", {}).get_json()["release"] != "4.4.0"
    shape = fns.set_isolation("switches", "gvisor")
    assert shape == {"Isolation": "gvisor", "EffectiveIsolation": "gvisor", "AccountDefault": "container",
                     "Allowed": ["container", "gvisor"]}
    assert invoke(client, "switches", {}).get_json()["release"] == "4.4.0"
    assert fns.set_isolation("switches", None)["EffectiveIsolation"] == "container"
    assert invoke(client, "switches", {}).get_json()["release"] != "4.4.0"


def test_the_account_bounds_what_its_functions_ask_for(client: Any, fns: Functions, components: Any) -> None:
    account = components.settings.account_id
    fns.create("bounded", {"app.py": PROBE})
    try:
        isolation.set_account(components, account, "gvisor", ["gvisor"])
        got = client.get("/lamina/v1/functions/bounded/isolation").get_json()
        assert got["EffectiveIsolation"] == "gvisor" and got["Allowed"] == ["gvisor"]
        assert invoke(client, "bounded", {}).get_json()["release"] == "4.4.0"  # the account's default
        refused = client.put("/lamina/v1/functions/bounded/isolation", json={"Isolation": "container"})
        assert refused.status_code == 400 and refused.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
        assert "not allowed in account" in refused.get_json()["message"]
    finally:
        isolation.set_account(components, account, "container", ["container", "gvisor"])
    assert invoke(client, "bounded", {}).get_json()["release"] != "4.4.0"


def test_bad_isolation_requests_are_refused(client: Any, fns: Functions) -> None:
    fns.create("iso-bad", {"app.py": PROBE})
    for body in ({"Isolation": "vm"}, {"Isolation": 1}, {}, {"Isolation": "gvisor", "Extra": 1}):
        resp = client.put("/lamina/v1/functions/iso-bad/isolation", json=body)
        assert resp.status_code == 400, (body, resp.get_data(as_text=True))
        assert resp.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
    missing = client.get("/lamina/v1/functions/nope/isolation")
    assert missing.status_code == 404 and missing.headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
