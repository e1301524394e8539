"""The init boost: a cold start runs with at least one vCPU until its first invoke answers.

Lambda gives the init phase a full CPU whatever the memory size; lamina boosts a new container the same
way and gives it the proportional share after its first invoke, or after INIT_BOOST_S at the latest.
The boost is recorded in Redis (``Pool.boost``), not in the API process that started the container, so
the reaper ends it even when that process died.
"""

from __future__ import annotations

from lamina.executor.docker_env import ContainerSpec, DockerEnv
from lamina.scheduler.pool import Pool

INIT_BOOST_S = 10.0  # Lambda's init phase limit: the boost never outlasts it


def end_init_boost(pool: Pool, docker_env: DockerEnv, container_id: str) -> bool:
    """End ``container_id``'s init boost if it still has one: apply its proportional CPU share."""
    share = pool.end_boost(container_id)
    if share is None:
        return False
    runtime, memory_mb = share
    docker_env.limit_cpu(container_id, ContainerSpec.cpu_for(memory_mb), runtime)
    return True
