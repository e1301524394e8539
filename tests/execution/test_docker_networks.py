"""lamina's function network is found by its exact name: Docker's name filter also matches names that
contain it, and docker-compose's default network of a project is called ``<project>_default``."""

from __future__ import annotations

import uuid

import docker
from lamina.executor.docker_env import DockerEnv


def test_a_network_whose_name_contains_lambdas_is_not_taken_for_it(docker_client: docker.DockerClient) -> None:
    name = f"lamina-exact-{uuid.uuid4().hex[:8]}"
    docker_client.networks.create(f"{name}_default", driver="bridge")  # a decoy: compose-like name
    try:
        env = DockerEnv(docker_client)
        env.ensure_network(name)
        made = [n for n in docker_client.networks.list(names=[name]) if n.name == name]
        assert len(made) == 1 and made[0].attrs["Options"].get("com.docker.network.bridge.enable_icc") == "false"
        assert env.bridge_of(name).startswith("br-") and env.bridge_of(name) == f"br-{made[0].id[:12]}"
    finally:
        for n in docker_client.networks.list(names=[name]):  # the network and its decoy
            n.remove()
