"""Keeps a few network sandboxes ready, so cold starts join a prepared network namespace.

A sandbox is handed to exactly one environment (``Pool.acquire`` pops it atomically with the cold-start
reservation) and removed with it. Any process may top the free list up: creation is claimed in Redis
first, so several API processes and the reaper together never overshoot ``target``.
"""

from __future__ import annotations

import logging
import time
import uuid

from lamina.executor.docker_env import DockerEnv, ExecutorError
from lamina.scheduler.pool import Pool

log = logging.getLogger(__name__)


def replenish(pool: Pool, docker: DockerEnv, image: str, network: str, instance: str, target: int) -> int:
    """Start sandboxes until ``target`` are free or being started; return how many this call started."""
    started = 0
    while target > 0:
        token = uuid.uuid4().hex
        if not pool.reserve_sandbox(time.time(), target, token):
            break
        try:
            box = docker.start_sandbox(image, network, instance)
        except ExecutorError as err:
            pool.add_sandbox(token)  # give the claim back
            log.warning("%s; cold starts use the bridge network meanwhile", err)
            break
        pool.add_sandbox(token, box.container_id, box.ip)
        started += 1
    return started
