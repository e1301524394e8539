"""Environment life cycle with the real reaper: freeze/thaw, idle reaping, draining updates, adoption."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import docker
from lamina.config import Settings
from lamina.executor.docker_env import DockerEnv, env_labels, function_cpu_quota
from lamina.scheduler.reaper import Reaper
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import container_ids, invoke, sandbox_ids, wait_gone
from support.leaks import remove_and_report

COUNTER = """
COUNT = 0
VERSION = {version!r}


def handler(event, context):
    global COUNT
    COUNT += 1
    return {{"count": COUNT, "version": VERSION, "stream": context.log_stream_name}}
"""


def counter(version: str = "v1") -> dict[str, str]:
    return {"app.py": COUNTER.format(version=version)}


def test_idle_environments_are_frozen_then_thawed_on_reuse(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("chilly", counter())
    assert invoke(client, "chilly").get_json()["count"] == 1
    [cid] = container_ids(docker_client, settings)
    report = reaper_for(freeze_after_s=0.0).tick()
    assert len(report.frozen) == 1
    assert docker_client.api.inspect_container(cid)["State"]["Status"] == "paused"
    assert invoker.pool.snapshot().envs[0].state.value == "frozen"
    thawed = invoke(client, "chilly")
    assert thawed.get_json()["count"] == 2  # same process: module state survived the freeze
    assert docker_client.api.inspect_container(cid)["State"]["Status"] == "running"
    assert invoker.pool.snapshot().envs[0].state.value == "warm"


def test_idle_environments_are_reaped_so_the_function_scales_to_zero(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("fleeting", counter())
    invoke(client, "fleeting")
    [cid] = container_ids(docker_client, settings)
    reaper = reaper_for(freeze_after_s=0.0, idle_timeout_s=60.0)
    assert reaper.tick().frozen  # frozen first ...
    later = reaper_for(freeze_after_s=0.0, idle_timeout_s=60.0, clock=lambda: time.time() + 61)
    assert len(later.tick().reaped) == 1  # ... reaped after the idle timeout
    assert wait_gone(docker_client, cid)
    assert invoker.pool.snapshot().envs == ()
    assert invoke(client, "fleeting").get_json()["count"] == 1  # a new cold start


def test_an_update_gets_new_environments_while_old_ones_drain(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("evolving", counter("v1"))
    old = invoke(client, "evolving").get_json()
    [old_cid] = container_ids(docker_client, settings)
    fns.update_code("evolving", counter("v2"))
    new = invoke(client, "evolving").get_json()
    assert (new["version"], new["count"]) == ("v2", 1)
    assert new["stream"] != old["stream"]
    report = reaper_for().tick()
    assert len(report.retired) == 1
    assert wait_gone(docker_client, old_cid)
    fns.update_config("evolving", memory=256)  # a configuration change also means new environments
    assert invoke(client, "evolving").get_json()["count"] == 1
    assert len(reaper_for().tick().retired) == 1
    assert [e.memory_mb for e in invoker.pool.snapshot().envs] == [256]


def test_restart_adopts_known_containers_and_removes_unknown_ones(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper], docker_env: DockerEnv,
    docker_client: docker.DockerClient, settings: Settings, runtime_images: dict[str, str],
) -> None:
    fns.create("survivor", counter())
    invoke(client, "survivor")
    [known] = container_ids(docker_client, settings)
    # A container of a previous run that Redis does not know (its state was lost, or its start abandoned).
    stray = docker_client.containers.create(
        runtime_images["python"], command=["sleep", "60"],
        labels=env_labels(settings.instance, "f" * 32, "000000000000:ghost", "$LATEST", "p"),
    )
    report = reaper_for().sweep()
    assert stray.id in report.removed and known not in report.removed
    assert len(report.adopted) == 1
    assert wait_gone(docker_client, stray.id)
    assert invoke(client, "survivor").get_json()["count"] == 2  # adopted: still the same environment
    # The container of a known environment vanished behind our back: the environment is forgotten.
    [env_id] = invoker.pool.env_ids()
    docker_env.remove(known)
    report = reaper_for().sweep()
    assert report.forgotten == [env_id]
    assert invoker.pool.snapshot().envs == ()
    assert invoke(client, "survivor").get_json()["count"] == 1


def test_a_vanished_warm_container_is_replaced_transparently(
    client: Any, fns: Functions, invoker: Invoker, docker_env: DockerEnv,
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("phoenix", counter())
    invoke(client, "phoenix")
    [cid] = container_ids(docker_client, settings)
    docker_env.remove(cid)
    resp = invoke(client, "phoenix")
    assert resp.status_code == 200 and resp.get_json()["count"] == 1


def test_cold_starts_join_a_ready_network_sandbox_that_goes_with_the_environment(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    invoker.environments.sandboxes = 2
    assert invoker.environments.replenish_sandboxes() == 2
    assert invoker.environments.replenish_sandboxes() == 0  # the target is reached
    ready = dict(invoker.pool.free_sandboxes())
    assert set(ready) == sandbox_ids(docker_client, settings)
    fns.create("boxed", counter())
    assert invoke(client, "boxed").get_json()["count"] == 1
    [env] = invoker.pool.snapshot().envs
    assert env.sandbox_id in ready
    host = docker_client.api.inspect_container(env.container_id)["HostConfig"]
    assert host["NetworkMode"] == f"container:{env.sandbox_id}"
    assert invoker.pool.env(env.env_id)["address"] == ready[env.sandbox_id]
    deadline = time.monotonic() + 10  # the used sandbox is replaced in the background
    while len(invoker.pool.free_sandboxes()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(invoker.pool.free_sandboxes()) == 2
    # Reaping the environment removes its sandbox too.
    later = reaper_for(idle_timeout_s=1.0, clock=lambda: time.time() + 5)
    assert len(later.tick().reaped) == 1
    assert wait_gone(docker_client, env.container_id) and wait_gone(docker_client, env.sandbox_id)
    # A sandbox nobody knows (its Redis entry was lost) is removed by the sweep once it is not brand new.
    stray = invoker.pool.take_all_sandboxes()
    report = reaper_for(clock=lambda: time.time() + 120).sweep()
    assert set(stray) <= set(report.removed)



class _PoolOf:
    """What the leak check needs of an invoker: its pool, and a close() (nothing runs in the background:
    the test keeps ``sandboxes`` at 0 while invoking)."""

    def __init__(self, invoker: Invoker) -> None:
        self.pool = invoker.pool

    def close(self) -> None:
        pass


def _boxed_environment(client: Any, invoker: Invoker) -> None:
    """A warm environment in a network sandbox, plus one free sandbox."""
    for _ in range(2):
        invoker.environments.sandboxes = 1
        assert invoker.environments.replenish_sandboxes() == 1
        invoker.environments.sandboxes = 0
        if not invoker.pool.env_ids():
            assert invoke(client, "tracked").status_code == 200


def test_the_leak_check_reports_environments_and_sandboxes_nobody_tracks(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("tracked", counter())
    _boxed_environment(client, invoker)
    assert len(container_ids(docker_client, settings)) == 1 and len(sandbox_ids(docker_client, settings)) == 2
    assert remove_and_report([_PoolOf(invoker)], docker_client, settings.instance, "t") == []  # all tracked
    assert not container_ids(docker_client, settings) | sandbox_ids(docker_client, settings)
    for env_id in invoker.pool.env_ids():
        invoker.pool.discard(env_id)
    invoker.pool.take_all_sandboxes()
    # Now Redis forgets an environment (and the sandbox it joined) and a free sandbox: all three leak.
    _boxed_environment(client, invoker)
    invoker.pool.take_all_sandboxes()
    for env_id in invoker.pool.env_ids():
        invoker.pool.discard(env_id)
    leaked = remove_and_report([_PoolOf(invoker)], docker_client, settings.instance, "t")
    assert len(leaked) == 3, leaked
    assert sum("lamina-sandbox-" in name for name in leaked) == 2
    assert not container_ids(docker_client, settings) | sandbox_ids(docker_client, settings)


def test_cold_starts_never_fail_while_the_reaper_sweeps_and_docker_loses_sandboxes(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    """A sandbox a cold start took is never retired under it; one Docker loses is replaced unseen."""
    invoker.environments.sandboxes = 2
    invoker.environments.replenish_sandboxes()
    fns.create("churn", counter())
    stop = threading.Event()
    done = {"sweeps": 0, "lost": 0}

    def reaper_side() -> None:
        reaper = reaper_for(clock=lambda: time.time() + 120)  # no sandbox counts as brand new
        while not stop.is_set():
            reaper.sweep()
            done["sweeps"] += 1
            time.sleep(0.02)

    thread = threading.Thread(target=reaper_side, daemon=True)
    thread.start()
    try:
        for i in range(10):
            free = invoker.pool.free_sandboxes()
            if i % 2 == 0 and free:  # between invokes, Docker loses a free sandbox the pool still lists
                try:
                    docker_client.api.remove_container(free[0][0], force=True)
                    done["lost"] += 1
                except docker.errors.APIError:
                    pass  # retired meanwhile (gone, or the sweep is removing it)
            fns.update_config("churn", env={"ROUND": str(i)})  # a new revision: a cold start
            resp = invoke(client, "churn")
            assert resp.status_code == 200, resp.get_data(as_text=True)
            assert "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
            assert resp.get_json()["count"] == 1
    finally:
        stop.set()
        thread.join(timeout=30)
    assert done["lost"] >= 1 and done["sweeps"] >= 10


SLOW_FIRST = """
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0)}
"""


def test_an_init_boost_that_its_invoke_never_ends_is_ended_by_the_reaper(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, monkeypatch: Any,
) -> None:
    """The boost is recorded in Redis, so it ends on time even if the API process that started it is gone."""
    import lamina.scheduler.environments as environments

    monkeypatch.setattr(environments, "INIT_BOOST_S", 1.0)
    fns.create("slow-first", {"app.py": SLOW_FIRST}, memory=128, timeout=20)
    answered: list[Any] = []
    caller = threading.Thread(target=lambda: answered.append(invoke(client, "slow-first", {"sleep": 4})))
    caller.start()
    deadline = time.monotonic() + 15
    cid = ""
    while not cid and time.monotonic() < deadline:
        cid = next((e.container_id for e in invoker.pool.snapshot().envs if e.function_name == "slow-first"), "")
        time.sleep(0.05)
    assert cid and invoker.environments.boosted(cid)
    assert _cpus(docker_client, cid) >= 1.0
    reaper = reaper_for(freeze_after_s=3600)
    while invoker.environments.boosted(cid) and time.monotonic() < deadline:  # still inside the first invoke
        reaper.tick()
        time.sleep(0.2)
    assert not invoker.environments.boosted(cid)
    assert caller.is_alive(), "the boost ended only because the invoke finished"
    quota, period = function_cpu_quota(cid) or (0, 1)
    assert 0 < quota / period < 0.1, (quota, period)  # the 128 MB share, for the function's processes
    assert _cpus(docker_client, cid) < 0.4  # the container: that and the agent's allowance
    caller.join(timeout=30)
    assert answered and answered[0].status_code == 200 and answered[0].get_json() == {"slept": 4}


def _cpus(docker_client: docker.DockerClient, cid: str) -> float:
    host = docker_client.api.inspect_container(cid)["HostConfig"]
    return float(host["CpuQuota"]) / float(host["CpuPeriod"] or 100_000)
