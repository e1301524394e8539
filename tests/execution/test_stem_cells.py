"""Stem cells (issue 14): pre-started, function-less environments a cold start claims, with no Docker
create or start on its path. The code and layers, the limits, the environment and the credentials
arrive at the claim; two functions' cells share nothing; a lost cell costs a cold start nothing but time;
the pools refill, trim, and are swept like every other container."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
from lamina.config import Settings
from lamina.executor.docker_env import AGENT_MEMORY_MB, LABEL_ROLE
from lamina.scheduler.cells import CELL_DIRS, CELL_ROLE
from lamina.scheduler.reaper import Reaper
from lamina.services.iam import iam
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke
from support.lambda_api import ROLE

HANDLER = """
import os
count = 0


def handler(event, context):
    global count
    count += 1
    import layered
    return {"count": count, "foo": os.environ.get("FOO"), "fn": context.function_name,
            "memory": context.memory_limit_in_mb, "task": sorted(os.listdir("/var/task")),
            "layer": layered.VALUE, "key": bool(os.environ.get("AWS_ACCESS_KEY_ID")),
            "cell": os.environ.get("LAMINA_CELL"), "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
"""


@pytest.fixture
def cells_on(invoker: Invoker, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Invoker:
    monkeypatch.setattr(invoker.environments, "settings", settings.with_(stem_cells=4))
    return invoker


def _wait_free(invoker: Invoker, family: str, n: int, timeout: float = 30.0) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + timeout
    while len(invoker.pool.free_cells(family)) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    free = invoker.pool.free_cells(family)
    assert len(free) >= n, free
    return free


def _container(invoker: Invoker, name: str) -> str:
    """The container of ``name``'s newest environment (an older revision's may still drain)."""
    envs = [e for e in invoker.pool.snapshot().envs if e.function_name == name]
    return max(envs, key=lambda e: e.last_used).container_id


def test_a_cold_start_claims_a_stem_cell_with_the_functions_code_limits_and_environment(
    client: Any, fns: Functions, cells_on: Invoker, docker_client: docker.DockerClient,
    reaper_for: Callable[..., Reaper],
) -> None:
    invoker = cells_on
    # An execution role, so the environment gets credentials (handed over at the claim).
    iam.put_role(fns.components, fns.components.settings.account_id, ROLE.rsplit("/", 1)[1],
                 [{"Action": ["lambda:GetFunction"], "Resource": ["*"]}])
    layer = fns.publish_layer("cell-layer", {"python/layered.py": "VALUE = 'from /opt'\n"})
    fns.create("celled", {"app.py": HANDLER, "extra.txt": "x"}, env={"FOO": "bar"}, layers=[layer], memory=256)
    first = invoke(client, "celled", {})  # no cell yet: the ordinary path, which asks for cells
    assert first.status_code == 200 and first.get_json()["count"] == 1, first.get_data(as_text=True)
    free = _wait_free(invoker, "python", 2)
    cell_ids = {cid for _cell, cid, _ip in free}
    # Python's runtime client is started ahead in a free cell (as the runtime's user), waiting for a claim.
    def runtime_waits() -> bool:
        top = docker_client.api.top(free[0][1], ps_args="-o pid,uid,args")
        return any(p[1] == "993" and p[2].startswith("/usr/bin/python3") for p in top["Processes"])

    deadline = time.monotonic() + 10
    while not runtime_waits() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime_waits()
    # A new revision: the next invoke is a cold start, and it claims one of the cells.
    fns.update_config("celled", env={"FOO": "baz"}, memory=384)
    got = invoke(client, "celled", {}, tail=True)
    assert got.status_code == 200, got.get_data(as_text=True)
    out = got.get_json()
    assert out == {"count": 1, "foo": "baz", "fn": "celled", "memory": "384", "task": ["app.py", "extra.txt"],
                   "layer": "from /opt", "key": True, "cell": None, "init": "on-demand"}, out
    cid = _container(invoker, "celled")
    assert cid in cell_ids
    info = docker_client.api.inspect_container(cid)
    assert info["Config"]["Labels"][LABEL_ROLE] == CELL_ROLE
    assert info["HostConfig"]["Memory"] == (384 + AGENT_MEMORY_MB) * 1024 * 1024  # set at the claim
    assert "Init Duration" in __import__("base64").b64decode(got.headers["X-Amz-Log-Result"]).decode()
    assert invoke(client, "celled", {}).get_json()["count"] == 2  # warm: the same runtime
    # Freeze and thaw as any environment.
    reaper_for(freeze_after_s=0.0).tick()
    assert docker_client.api.inspect_container(cid)["State"]["Paused"] is True
    assert invoke(client, "celled", {}).get_json()["count"] == 3
    # The pool refills in the background.
    _wait_free(invoker, "python", 2)


def test_two_functions_cells_share_nothing_and_a_cell_is_claimed_once(
    client: Any, fns: Functions, cells_on: Invoker, settings: Settings,
) -> None:
    invoker = cells_on
    layer = fns.publish_layer("cell-layer2", {"python/layered.py": "VALUE = 1\n"})
    fns.create("seed", {"app.py": HANDLER}, layers=[layer])
    assert invoke(client, "seed", {}).status_code == 200
    _wait_free(invoker, "python", 2)
    fns.create("cell-a", {"app.py": HANDLER, "a-secret.txt": "a"}, layers=[layer])
    fns.create("cell-b", {"app.py": HANDLER, "b-secret.txt": "b"}, layers=[layer])
    a = invoke(client, "cell-a", {}).get_json()
    b = invoke(client, "cell-b", {}).get_json()
    assert a["task"] == ["a-secret.txt", "app.py"] and b["task"] == ["app.py", "b-secret.txt"], (a, b)
    ca, cb = _container(invoker, "cell-a"), _container(invoker, "cell-b")
    assert ca != cb
    # The claim is the cell's only one: its agent refuses another.
    address = next(e for e in invoker.pool.snapshot().envs if e.function_name == "cell-a").env_id
    env = invoker.pool.env(address)
    import http.client
    conn = http.client.HTTPConnection(env["address"], 8080, timeout=5)
    conn.request("POST", "/claim", body=b'{"env": {"FOO": "hijack"}}')
    assert conn.getresponse().status == 409
    # A free cell takes a claim only with its own id: an address reused by another cell is refused.
    [(_cell, _cid, free_ip), *_] = _wait_free(invoker, "python", 1)
    deadline = time.monotonic() + 10
    while True:  # a cell listed as free may still be starting its agent
        try:
            conn = http.client.HTTPConnection(free_ip, 8080, timeout=5)
            conn.request("POST", "/claim", body=b'{"cell": "not-this-one", "env": {"FOO": "hijack"}}')
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert conn.getresponse().status == 409
    assert invoke(client, "cell-a", {}).get_json()["foo"] is None


def test_a_lost_cell_costs_the_cold_start_nothing_and_the_sweep_removes_strays(
    client: Any, fns: Functions, cells_on: Invoker, docker_client: docker.DockerClient,
    reaper_for: Callable[..., Reaper], settings: Settings,
) -> None:
    invoker = cells_on
    layer = fns.publish_layer("cell-layer3", {"python/layered.py": "VALUE = 1\n"})
    fns.create("lossy", {"app.py": HANDLER}, layers=[layer])
    assert invoke(client, "lossy", {}).status_code == 200
    free = _wait_free(invoker, "python", 2)
    for _cell, cid, _ip in free:  # Docker loses every free cell the pool still lists
        docker_client.api.remove_container(cid, force=True)
    fns.update_config("lossy", env={"ROUND": "2"})
    got = invoke(client, "lossy", {})
    assert got.status_code == 200 and got.get_json().get("count") == 1, got.get_data(as_text=True)
    assert _container(invoker, "lossy") not in {cid for _c, cid, _ip in free}
    # A cell Redis forgot (its free list emptied) is removed by the sweep, and its directory with it.
    fresh = _wait_free(invoker, "python", 1)
    invoker.pool.take_all_cells()
    Reaper(invoker.pool, invoker.environments.docker, settings.instance, clock=lambda: time.time() + 120,
           data_dir=settings.data_dir).sweep()
    alive = {c["Id"] for c in docker_client.api.containers(all=True)}
    assert not {cid for _c, cid, _ip in fresh} & alive
    assert not any((Path(settings.data_dir) / CELL_DIRS / cell).exists() for cell, _c, _ip in fresh)


def test_functions_that_cells_cannot_run_take_the_ordinary_path(
    client: Any, fns: Functions, cells_on: Invoker, docker_client: docker.DockerClient,
) -> None:
    invoker = cells_on
    fns.create("big-tmp", {"app.py": "def handler(e, c):\n    return 1\n"}, ephemeral_mb=2048)
    assert invoke(client, "big-tmp", {}).status_code == 200
    cid = _container(invoker, "big-tmp")
    assert docker_client.api.inspect_container(cid)["Config"]["Labels"].get(LABEL_ROLE) != CELL_ROLE
    assert not invoker.pool.cell_families()  # no demand recorded: it can never use a cell
