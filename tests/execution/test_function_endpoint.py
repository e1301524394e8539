"""Where function code finds the API (AWS_ENDPOINT_URL_LAMBDA with its role's credentials): LAMINA_PUBLIC_URL,
else, for an API on every interface (docker-compose), the function network's gateway."""

from __future__ import annotations

from typing import Any

from lamina.services.invoke.invocations import Invoker


def test_the_endpoint_defaults_to_the_function_networks_gateway(invoker: Invoker, docker_client: Any) -> None:
    invoker.settings = invoker.settings.with_(host="0.0.0.0", port=9123, public_url=None)
    invoker.environments._gateway = None
    got = invoker.environments.function_endpoint()
    net = docker_client.networks.get(invoker.settings.docker_network)
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    assert got == f"http://{gateway}:9123"
    invoker.settings = invoker.settings.with_(public_url="http://lamina.example:9000")
    assert invoker.environments.function_endpoint() == "http://lamina.example:9000"
    invoker.settings = invoker.settings.with_(host="127.0.0.1", public_url=None)
    assert invoker.environments.function_endpoint() == "http://127.0.0.1:9123"
