"""Isolation, proved from inside a running function (issue 5, item 6): not root, no capabilities, a
read-only file system but /tmp, no Docker socket, no way to PostgreSQL, Redis or another function's
container, and a fork bomb stopped by the pids limit without hurting a neighbour.

Memory hogs and busy loops next to a neighbour: test_containment.py; out of memory -> Runtime.ExitError and
a new environment, timeout -> the environment is destroyed: test_invoke_python.py.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.invoking import invoke
from support.neighbour import Neighbour
from support.probes import CONNECT

PROBE = CONNECT + r'''

def _write(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return "written"
    except OSError as err:
        return type(err).__name__

def handler(event, context):
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    return {
        "uid": os.getuid(), "euid": os.geteuid(),
        "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(),
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "writes": {p: _write(p) for p in ("/tmp/ok", "/var/task/x", "/etc/x", "/x", "/opt/x", "/var/runtime/x")},
        "docker_socket": [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)],
        "connects": {f"{h}:{p}": _connect(h, p) for h, p in event["targets"]},
    }
'''

FORK_BOMB = r'''
import os, time

def handler(event, context):
    if event.get("warm"):
        return "warm"
    children = []
    try:
        while len(children) < 5000:
            pid = os.fork()
            if pid == 0:
                time.sleep(3)
                os._exit(0)
            children.append(pid)
    except OSError as err:
        stopped = type(err).__name__
    else:
        stopped = "not stopped"
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return {"forked": len(children), "stopped_by": stopped}
'''


def _ports(url: str) -> tuple[str, int]:
    parts = urlsplit(url.replace("postgresql+psycopg2", "postgresql"))
    return parts.hostname or "127.0.0.1", int(parts.port or 0)


@pytest.fixture
def isolated_network(invoker: Any, docker_client: Any, settings: Any) -> Any:
    """A network made by lamina for this test (an older shared `lamina` network may predate enable_icc)."""
    name = f"lamina-iso-{settings.instance}"
    invoker.settings = invoker.settings.with_(docker_network=name)
    invoker.environments.sandboxes = 0
    yield name
    invoker.close()
    for c in docker_client.containers.list(all=True, filters={"label": f"lamina.instance={settings.instance}"}):
        c.remove(force=True)
    for net in docker_client.networks.list(names=[name]):
        net.remove()


def test_a_function_cannot_escape_its_container(client: Any, fns: Any, invoker: Any, docker_client: Any,
                                                settings: Any, isolated_network: str, sandbox: str,
                                                neighbour: Neighbour) -> None:
    fns.create("neighbour", {"app.py": "def handler(e, c):\n    return 'hi'\n"})
    assert invoke(client, "neighbour", {}).status_code == 200
    from lamina.scheduler import keys

    env_id = next(e.env_id for e in invoker.pool.snapshot().envs if e.function_name == "neighbour")
    neighbour_ip = invoker.redis.hget(keys.env(env_id), "address").decode()
    net = docker_client.networks.get(isolated_network)
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    _pg_host, pg_port = _ports(os.environ["LAMINA_TEST_DATABASE_URL"])
    _redis_host, redis_port = _ports(os.environ["LAMINA_TEST_REDIS_URL"])
    targets = [[h, p] for h in ("127.0.0.1", gateway) for p in (pg_port, redis_port)]
    targets.append([str(neighbour_ip).split(":")[0], 8080])  # the neighbour's agent
    fns.create("probe", {"app.py": PROBE}, timeout=30, isolation=sandbox)
    resp = neighbour.attack(lambda: invoke(client, "probe", {"targets": targets}),
                            warm=lambda: invoke(client, "probe", {"targets": []}), repeat=3)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["uid"] != 0 and out["euid"] != 0
    assert out["cap_eff"] == "0000000000000000" and out["cap_bnd"] == "0000000000000000"
    assert out["writes"]["/tmp/ok"] == "written"
    assert all(v != "written" for p, v in out["writes"].items() if p != "/tmp/ok"), out["writes"]
    assert out["docker_socket"] == []
    assert all(v != "open" for v in out["connects"].values()), out["connects"]


def test_a_fork_bomb_is_stopped_and_the_neighbour_still_answers(client: Any, fns: Any, sandbox: str,
                                                               neighbour: Neighbour) -> None:
    fns.create("bomb", {"app.py": FORK_BOMB}, timeout=30, isolation=sandbox)
    fns.create("calm", {"app.py": "def handler(e, c):\n    return 'calm'\n"})
    resp = neighbour.attack(lambda: invoke(client, "bomb", {}), warm=lambda: invoke(client, "bomb", {"warm": 1}))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    if resp.headers.get("X-Amz-Function-Error"):
        # The pids limit starved the runtime itself (the environment died), or the bomb was still at it at
        # its timeout (under gVisor at 128 MB's CPU share): the environment ended with Lambda's error.
        assert out["errorType"].startswith("Runtime.") or out["errorType"] == "Sandbox.Timedout", out
    else:
        assert out["stopped_by"] in ("BlockingIOError", "OSError") and out["forked"] < 1024, out
    assert invoke(client, "calm", {}).get_json() == "calm"
    # The bomb's next invocation gets a working environment again.
    assert invoke(client, "calm", {}).status_code == 200
