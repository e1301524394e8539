"""Helpers for execution tests: invoke through the Flask test client, watch containers."""

from __future__ import annotations

import json
import time
from typing import Any

import docker
from lamina.config import Settings


def invoke(
    client: Any,
    name: str,
    payload: Any = None,
    *,
    qualifier: str | None = None,
    tail: bool = False,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Any:
    """POST an Invoke through the Flask test client; return the response."""
    h = dict(headers or {})
    if tail:
        h["X-Amz-Log-Type"] = "Tail"
    body = raw if raw is not None else json.dumps({} if payload is None else payload).encode()
    url = f"/2015-03-31/functions/{name}/invocations"
    if qualifier:
        url += f"?Qualifier={qualifier}"
    return client.post(url, data=body, headers=h)


def container_ids(client: docker.DockerClient, settings: Settings) -> set[str]:
    """Containers of environments (not network sandboxes) of this test session."""
    # The low-level list: containers.list() inspects each one and fails on one removed meanwhile.
    found = client.api.containers(all=True, filters={"label": [f"lamina.instance={settings.instance}", "lamina.env"]})
    return {c["Id"] for c in found}


def sandbox_ids(client: docker.DockerClient, settings: Settings) -> set[str]:
    found = client.api.containers(
        all=True, filters={"label": [f"lamina.instance={settings.instance}", "lamina.role=sandbox"]}
    )
    return {c["Id"] for c in found}


def wait_gone(client: docker.DockerClient, container_id: str, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            client.containers.get(container_id)
        except docker.errors.NotFound:
            return True
        time.sleep(0.05)
    return False
