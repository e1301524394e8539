"""Extracted code (``LAMINA_DATA_DIR/tasks``, ``opt``) that no function version uses and no container
mounts is deleted by the reaper, at most once per ``collect_every_s``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
from lamina.config import Settings
from lamina.executor.docker_env import DockerEnv
from lamina.scheduler.pool import Pool
from lamina.scheduler.reaper import Reaper
from lamina.services.functions.functions import code_in_use
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke

APP = "VERSION = {v!r}\n\ndef handler(event, context):\n    return VERSION\n"


def code_dirs(docker_client: docker.DockerClient, container_id: str) -> dict[str, Path]:
    """The host directories a container mounts at /var/task and /opt."""
    mounts = docker_client.api.inspect_container(container_id)["Mounts"]
    return {m["Destination"]: Path(m["Source"]) for m in mounts if m["Destination"] in ("/var/task", "/opt")}


def env_of(invoker: Invoker, name: str) -> str:
    [env] = [e for e in invoker.pool.snapshot().envs if e.function_name == name]
    return env.container_id


def test_code_no_version_uses_is_collected_once_its_environments_are_gone(
    client: Any, fns: Functions, invoker: Invoker, components: Any, docker_env: DockerEnv,
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    shared = fns.publish_layer("shared", {"python/shared.py": "VALUE = 1\n"})
    extra = fns.publish_layer("extra", {"python/extra.py": "VALUE = 2\n"})
    fns.create("keeper", {"app.py": APP.format(v="k1")}, layers=[shared])
    fns.create("goner", {"app.py": APP.format(v="g1")}, layers=[shared, extra])
    assert invoke(client, "keeper").get_json() == "k1"
    assert invoke(client, "goner").get_json() == "g1"
    keeper_old = code_dirs(docker_client, env_of(invoker, "keeper"))
    goner = code_dirs(docker_client, env_of(invoker, "goner"))
    fns.update_code("keeper", {"app.py": APP.format(v="k2")})
    assert invoke(client, "keeper").get_json() == "k2"  # a new environment with new code; the old one drains
    keeper_new = code_dirs(docker_client, max(
        (e for e in invoker.pool.snapshot().envs if e.function_name == "keeper"), key=lambda e: e.last_used
    ).container_id)
    assert keeper_new["/var/task"] != keeper_old["/var/task"] and keeper_new["/opt"] == keeper_old["/opt"]
    assert client.delete("/2015-03-31/functions/goner").status_code == 204
    stray = settings.data_dir / "tasks" / ("0" * 64)  # a brand-new directory: a cold start may be using it
    stray.mkdir(parents=True)

    def reaper(clock_shift: float) -> Reaper:
        return Reaper(Pool(components.redis), docker_env, settings.instance, freeze_after_s=1e6,
                      idle_timeout_s=1e7, clock=lambda: time.time() + clock_shift, data_dir=settings.data_dir,
                      code_in_use=lambda: code_in_use(components.sessions), collect_every_s=600.0)

    assert reaper(0.0).collect_code() == []  # everything here is younger than the grace period
    assert stray.is_dir()
    # Past the grace period: the unused stray goes, but code still mounted by environments that have not
    # been retired yet stays.
    collected = {settings.data_dir / p for p in reaper(3600.0).collect_code()}
    assert stray in collected and not stray.exists()
    assert not collected & {*keeper_old.values(), *goner.values(), *keeper_new.values()}
    # The next round retires the stale environments and then deletes what only they used.
    later = reaper(3600.0)
    report = later.tick()
    assert len(report.retired) == 2
    gone = {keeper_old["/var/task"], goner["/var/task"], goner["/opt"]}
    assert {settings.data_dir / p for p in report.collected} >= gone
    for path in gone:
        assert not path.exists()
    for path in keeper_new.values():  # what the current version uses stays
        assert path.is_dir()
    # At most once per collect_every_s.
    stray.mkdir()
    assert later.tick().collected == [] and stray.is_dir()
    assert invoke(client, "keeper").get_json() == "k2"
