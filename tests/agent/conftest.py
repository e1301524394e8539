"""Fixtures for the agent tests: real containers, no platform in between (see support/containers.py).

Images are built once per session; every container carries ``lamina.test=1`` and this session's tag,
is removed after its test, and none may be left when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from lamina.config import Settings
from lamina.executor.images import ensure_images, image_for_runtime
from support.containers import SESSION, EnvFactory
from support.images import build_awslambdaric_image


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=300)
    yield client
    leaked = client.containers.list(all=True, filters={"label": f"lamina.test-session={SESSION}"})
    for c in leaked:
        c.remove(force=True)
    client.close()
    assert not leaked, f"containers leaked: {[c.name for c in leaked]}"


@pytest.fixture(scope="session")
def runtime_images(docker_client: docker.DockerClient) -> dict[str, str]:
    return ensure_images(docker_client, Settings.from_env({}), log=lambda msg: None)


@pytest.fixture(scope="session")
def ric_image(docker_client: docker.DockerClient) -> str:
    return build_awslambdaric_image(docker_client)


@pytest.fixture
def envs(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[EnvFactory]:
    factory = EnvFactory(docker_client, tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def python_image(runtime_images: dict[str, str]) -> str:
    return image_for_runtime(Settings.from_env({}), "python3.11")


@pytest.fixture
def nodejs_image(runtime_images: dict[str, str]) -> str:
    return image_for_runtime(Settings.from_env({}), "nodejs18.x")


@pytest.fixture
def provided_image(runtime_images: dict[str, str]) -> str:
    return image_for_runtime(Settings.from_env({}), "provided.al2023")
