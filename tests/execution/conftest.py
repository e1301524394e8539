"""Fixtures for execution tests: the real Docker engine, runtime images, and a leak check.

Every container the platform starts carries ``lamina.instance=<settings.instance>`` (unique per test
session). After each test the invoker's background removals are awaited, containers the scheduler still
tracks (the warm pool and its network sandboxes) are removed, and any other container of this instance
counts as leaked (``support.leaks``); the session fails if one did, or if any container is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from lamina.config import Settings
from lamina.executor.docker_env import DockerEnv
from lamina.executor.images import ensure_images
from lamina.scheduler.pool import Pool
from lamina.scheduler.reaper import Reaper
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.leaks import remove_and_report
from support.neighbour import Neighbour

LEAKED: list[str] = []


@pytest.fixture(scope="session")
def docker_client(settings: Settings) -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=300)
    yield client
    left = client.containers.list(all=True, filters={"label": f"lamina.instance={settings.instance}"})
    for c in left:
        c.remove(force=True)
    client.close()
    assert not LEAKED, f"containers leaked by the platform: {LEAKED}"
    assert not left, f"containers left at the end of the session: {[c.name for c in left]}"


@pytest.fixture(scope="session")
def runtime_images(docker_client: docker.DockerClient, settings: Settings) -> dict[str, str]:
    return ensure_images(docker_client, settings, log=lambda msg: None)


@pytest.fixture
def invoker(
    app: Any, runtime_images: dict[str, str], docker_client: docker.DockerClient, settings: Settings,
    request: pytest.FixtureRequest,
) -> Iterator[Invoker]:
    """The app's invoker; afterwards, the warm pool is emptied and anything else counts as leaked."""
    invoker: Invoker = app.extensions["lamina.invoker"]
    yield invoker
    LEAKED.extend(remove_and_report([invoker], docker_client, settings.instance, request.node.name))


@pytest.fixture(params=["container", "gvisor"])
def sandbox(request: pytest.FixtureRequest) -> str:
    """The isolation an attack test's function runs in: every attack is tried under runc and runsc."""
    return str(request.param)


@pytest.fixture
def neighbour(client: Any, fns: Functions) -> Neighbour:
    """Another team's warm function beside the attack (its p99 meanwhile stays within 2x)."""
    return Neighbour(client, fns)


@pytest.fixture
def fns(client: Any, components: Any, invoker: Invoker) -> Functions:
    return Functions(client, components, invoker)


@pytest.fixture
def docker_env(docker_client: docker.DockerClient) -> DockerEnv:
    return DockerEnv(docker_client)


@pytest.fixture
def reaper_for(components: Any, docker_env: DockerEnv, settings: Settings) -> Callable[..., Reaper]:
    def make(freeze_after_s: float = 3600.0, idle_timeout_s: float = 7200.0, clock: Any = time.time) -> Reaper:
        return Reaper(Pool(components.redis), docker_env, settings.instance, freeze_after_s, idle_timeout_s, clock)

    return make
