"""The container leak check every test that runs functions ends with.

After a test, the invokers are closed (which awaits their background removals); containers the scheduler
still accounts for (an environment of the warm pool, or a network sandbox that is free or joined by one)
are removed as the end of the test's warm pool; any other container of the session's lamina instance
was leaked by the platform. Environment containers and network sandboxes are judged alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import docker

SETTLE_S = 3.0  # a removal another process (a worker subprocess) started may still be under way


def remove_and_report(
    invokers: Iterable[Any], docker_client: docker.DockerClient, instance: str, test_name: str
) -> list[str]:
    """Remove every container of ``instance``; return "<test>: <name>" for each the scheduler did not know."""
    known: set[str] = set()
    env_ids: set[str] = set()
    for inv in invokers:
        inv.close()
        for view in inv.pool.snapshot().envs:
            env_ids.add(view.env_id)
            known.update(c for c in (view.container_id, view.sandbox_id) if c)
        known.update(cid for cid, _ip in inv.pool.free_sandboxes())
        known.update(cid for _cell, cid, _ip in inv.pool.free_cells())

    def unknown() -> list[dict[str, Any]]:
        found = docker_client.api.containers(all=True, filters={"label": f"lamina.instance={instance}"})
        # An environment whose container id is not recorded yet (its start was cut short) is still known.
        return [c for c in found if c["Id"] not in known and (c.get("Labels") or {}).get("lamina.env") not in env_ids]

    deadline = time.monotonic() + SETTLE_S
    stray = unknown()
    while stray and time.monotonic() < deadline:
        time.sleep(0.1)
        stray = unknown()
    leaked = [f"{test_name}: {(c.get('Names') or [c['Id'][:12]])[0].lstrip('/')}" for c in stray]
    for c in docker_client.api.containers(all=True, filters={"label": f"lamina.instance={instance}"}):
        try:
            docker_client.api.remove_container(c["Id"], force=True)
        except docker.errors.NotFound:
            pass
    return leaked
