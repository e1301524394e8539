"""The API on the function network's gateway address, where functions' AWS_ENDPOINT_URL_* point: for tests
whose function code calls lamina back (boto3 or the AWS SDKs inside a function)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve_on_gateway(app: Any, docker_client: Any, settings: Any, *invokers: Any) -> Iterator[str]:
    """Serve ``app`` on the gateway of the function network; ``invokers`` send their functions there."""
    from lamina.executor.docker_env import DockerEnv

    DockerEnv(docker_client).ensure_network(settings.docker_network)
    net = docker_client.networks.get(settings.docker_network)
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    server = make_server(gateway, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://{gateway}:{server.server_port}"
    for inv in invokers:
        inv.settings = inv.settings.with_(public_url=url)
    try:
        yield url
    finally:
        server.shutdown()
