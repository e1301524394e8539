"""Deleting a function or a version retires its environments at once, not after the idle timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import docker
from lamina.config import Settings
from lamina.scheduler.reaper import Reaper
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import container_ids, invoke, wait_gone

APP = """
import time

COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    time.sleep(event.get("hold", 0))
    return {"count": COUNT, "version": context.function_version}
"""


def delete(client: Any, name: str, qualifier: str | None = None) -> None:
    url = f"/2015-03-31/functions/{name}" + (f"?Qualifier={qualifier}" if qualifier else "")
    resp = client.delete(url)
    assert resp.status_code == 204, resp.get_data(as_text=True)


def test_deleting_a_function_retires_its_warm_environments(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("ephemeral", {"app.py": APP})
    assert invoke(client, "ephemeral").status_code == 200
    [cid] = container_ids(docker_client, settings)
    delete(client, "ephemeral")
    report = reaper_for().tick()  # idle timeout two hours away: retired because the function is gone
    assert len(report.retired) == 1 and not report.reaped
    assert wait_gone(docker_client, cid)
    assert invoker.pool.snapshot().envs == ()
    assert invoke(client, "ephemeral").status_code == 404
    # The same name again is a new function with new environments.
    fns.create("ephemeral", {"app.py": APP})
    assert invoke(client, "ephemeral").get_json()["count"] == 1
    assert not reaper_for().tick().retired


def test_deleting_a_version_retires_only_its_environments(
    client: Any, fns: Functions, invoker: Invoker, reaper_for: Callable[..., Reaper],
    docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("versioned", {"app.py": APP})
    version = fns.publish_version("versioned")
    assert invoke(client, "versioned", qualifier=version).get_json()["version"] == version
    assert invoke(client, "versioned").get_json()["version"] == "$LATEST"
    by_version = {e.version: e for e in invoker.pool.snapshot().envs}
    assert set(by_version) == {version, "$LATEST"}
    delete(client, "versioned", version)
    report = reaper_for().tick()
    assert report.retired == [by_version[version].env_id]
    assert wait_gone(docker_client, by_version[version].container_id)
    assert [e.version for e in invoker.pool.snapshot().envs] == ["$LATEST"]
    assert invoke(client, "versioned").get_json()["count"] == 2  # $LATEST stays warm


def test_an_environment_busy_at_deletion_is_discarded_when_it_finishes(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("midflight", {"app.py": APP}, timeout=10)
    answers: list[Any] = []
    app = client.application
    caller = threading.Thread(target=lambda: answers.append(invoke(app.test_client(), "midflight", {"hold": 2})))
    caller.start()
    deadline = time.monotonic() + 10
    while not any(e.state.value == "busy" for e in invoker.pool.snapshot().envs) and time.monotonic() < deadline:
        time.sleep(0.05)
    [cid] = container_ids(docker_client, settings)
    delete(client, "midflight")
    caller.join()
    assert answers[0].status_code == 200 and answers[0].get_json()["count"] == 1  # it finishes normally
    assert wait_gone(docker_client, cid)  # ... and its environment does not go back to the pool
    assert invoker.pool.snapshot().envs == ()
