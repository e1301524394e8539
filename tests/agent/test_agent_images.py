"""Runtime images: names, the agent directory, and the context-hash cache (a changed context rebuilds)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from lamina import runtimes
from lamina.config import Settings
from lamina.executor import images

pytestmark = pytest.mark.docker


def test_image_for_runtime() -> None:
    settings = Settings.from_env({})
    assert images.image_for_runtime(settings, "python3.11") == "lamina/python:latest"
    assert images.image_for_runtime(settings, "nodejs18.x") == "lamina/nodejs:latest"
    for runtime in ("provided", "provided.al2", "provided.al2023"):
        assert images.image_for_runtime(settings, runtime) == "lamina/provided:latest"
    assert images.image_for_runtime(settings.with_(image_prefix="x"), "python3.11") == "x/python:latest"
    with pytest.raises(ValueError):
        images.image_for_runtime(settings, "dotnet8")


def test_agent_dir_and_runtimes_dir() -> None:
    assert (images.agent_dir() / "agent.py").is_file()
    for family in images.FAMILIES:
        assert (images.runtimes_dir() / runtimes.BY_FAMILY[family].folder / "Dockerfile").is_file()


def test_ensure_images_is_cached(docker_client: docker.DockerClient, runtime_images: dict[str, str]) -> None:
    assert runtime_images == {f: f"lamina/{f}:latest" for f in images.FAMILIES}
    before = {tag: docker_client.images.get(tag).id for tag in runtime_images.values()}
    logged: list[str] = []
    again = images.ensure_images(docker_client, Settings.from_env({}), ["python3.11", "nodejs"], log=logged.append)
    assert again == {"python": "lamina/python:latest", "nodejs": "lamina/nodejs:latest"}
    assert logged == []  # nothing rebuilt
    assert {tag: docker_client.images.get(tag).id for tag in runtime_images.values()} == before
    label = docker_client.images.get("lamina/python:latest").labels[images.HASH_LABEL]
    base_id = docker_client.images.get("lamina/base:bookworm").id
    assert label == images.context_hash(images.runtimes_dir() / "python", base_id)


def test_changed_context_rebuilds(docker_client: docker.DockerClient, runtime_images: dict[str, str], tmp_path: Path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\n")
    (context / "hello.txt").write_text("one")
    tag = "lamina-test/cache-probe:latest"
    base = "lamina/base:bookworm"
    base_id = docker_client.images.get(base).id
    logged: list[str] = []
    try:
        first = images.build_context_image(docker_client, context, tag, base, base_id, log=logged.append)
        same = images.build_context_image(docker_client, context, tag, base, base_id, log=logged.append)
        assert same == first and len(logged) == 1
        (context / "hello.txt").write_text("two")
        changed = images.build_context_image(docker_client, context, tag, base, base_id, log=logged.append)
        assert changed != first and len(logged) == 2
        forced = images.build_context_image(docker_client, context, tag, base, base_id, force=True, log=logged.append)
        assert len(logged) == 3 and forced
    finally:
        docker_client.images.remove(tag, force=True)
