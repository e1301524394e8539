"""Networking per function through Lambda's VpcConfig (issue 5, item 6), proved from inside functions:
SubnetIds ["none"] leaves a function no network at all (the platform still reaches its agent, through a
unix socket); SubnetIds naming a Docker network an operator opened to the account (label lamina.vpc)
attach the function to it, the VPC analogue; the default stays the egress-only bridge."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke
from support.lambda_api import assert_error
from support.probes import CONNECT

PROBE = CONNECT + r'''

def handler(event, context):
    return {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "connects": {f"{h}:{p}": _connect(h, p) for h, p in event.get("targets", [])},
    }
'''

ACCOUNT = "000000000000"


def _vpc(client: Any, name: str, vpc: dict[str, Any]) -> Any:
    return client.put(f"/2015-03-31/functions/{name}/configuration", json={"VpcConfig": vpc})


@pytest.fixture
def vpc_network(docker_client: docker.DockerClient, runtime_images: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A network opened to the test account, with a TCP service on it: (network name, service address)."""
    name = f"lamina-test-vpc-{uuid.uuid4().hex[:8]}"
    net = docker_client.networks.create(name, driver="bridge", labels={"lamina.vpc": ACCOUNT})
    image = runtime_images.get("python") or next(iter(runtime_images.values()))
    service = docker_client.containers.run(image, ["python3", "-m", "http.server", "8000"], detach=True,
                                           network=name, entrypoint=[], user="993:990")
    try:
        service.reload()
        ip = service.attrs["NetworkSettings"]["Networks"][name]["IPAddress"]
        yield name, ip
    finally:
        service.remove(force=True)
        net.reload()
        for c in net.containers:  # environments of the test's functions, if still there
            net.disconnect(c, force=True)
        net.remove()


def test_no_network_at_all_yet_invokes_work(client: Any, fns: Functions, invoker: Invoker,
                                            docker_client: docker.DockerClient) -> None:
    fns.create("isolated", {"app.py": PROBE})
    assert _vpc(client, "isolated", {"SubnetIds": ["none"]}).status_code == 200
    gateway = docker_client.networks.get(invoker.settings.docker_network).attrs["IPAM"]["Config"][0]["Gateway"]
    targets = [[gateway, 9000], ["1.1.1.1", 53], ["127.0.0.1", 5432]]
    resp = invoke(client, "isolated", {"targets": targets})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["interfaces"] == ["lo"], out
    assert all(v != "open" for v in out["connects"].values()), out
    [env] = [e for e in invoker.pool.snapshot().envs if e.function_name == "isolated"]
    record = invoker.pool.env(env.env_id)
    assert record["address"].startswith("unix:") and not env.sandbox_id
    host = docker_client.api.inspect_container(record["container"])["HostConfig"]
    assert host["NetworkMode"] == "none"
    again = invoke(client, "isolated", {"targets": []})  # warm, over the same socket
    assert again.status_code == 200 and again.get_json()["interfaces"] == ["lo"]


def test_a_named_network_is_reachable_only_by_functions_attached_to_it(
    client: Any, fns: Functions, vpc_network: tuple[str, str],
) -> None:
    name, service_ip = vpc_network
    fns.create("inside", {"app.py": PROBE})
    fns.create("outside", {"app.py": PROBE})
    resp = _vpc(client, "inside", {"SubnetIds": [name], "SecurityGroupIds": ["sg-web"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["VpcConfig"] == {"SubnetIds": [name], "SecurityGroupIds": ["sg-web"], "VpcId": "lamina"}
    deadline = time.monotonic() + 20
    while True:  # the service may still be starting
        inside = invoke(client, "inside", {"targets": [[service_ip, 8000]]}).get_json()
        if inside["connects"][f"{service_ip}:8000"] == "open" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert inside["connects"][f"{service_ip}:8000"] == "open", inside
    outside = invoke(client, "outside", {"targets": [[service_ip, 8000]]}).get_json()
    assert outside["connects"][f"{service_ip}:8000"] != "open", outside


def test_bad_vpc_configs_are_refused(client: Any, fns: Functions, docker_client: docker.DockerClient) -> None:
    fns.create("vpc-bad", {"app.py": PROBE})
    closed = f"lamina-test-closed-{uuid.uuid4().hex[:8]}"
    net = docker_client.networks.create(closed, driver="bridge")  # no lamina.vpc label: not opened
    try:
        for vpc in ({"SubnetIds": ["no-such-network"]}, {"SubnetIds": [closed]}, {"SubnetIds": ["none", closed]},
                    {"SubnetIds": ["host"]}, {"SubnetIds": "none"}, {"SubnetIds": ["bad name"]},
                    {"SubnetIds": [1]}, {"SecurityGroupIds": ["x"] * 6, "SubnetIds": ["none"]}, ["none"]):
            resp = _vpc(client, "vpc-bad", vpc)  # type: ignore[arg-type]
            assert_error(resp, 400, "InvalidParameterValueException")
        assert "is not a network this account may use" in _vpc(client, "vpc-bad", {"SubnetIds": [closed]}) \
            .get_json()["Message"]
    finally:
        net.remove()
    cleared = _vpc(client, "vpc-bad", {"SubnetIds": [], "SecurityGroupIds": []})
    assert cleared.status_code == 200 and "VpcConfig" not in cleared.get_json()


def test_boto3_round_trips_vpc_config(lambda_client: Any, fns: Functions) -> None:
    fns.create("vpc-boto", {"app.py": PROBE})
    lambda_client.update_function_configuration(FunctionName="vpc-boto",
                                                VpcConfig={"SubnetIds": ["none"], "SecurityGroupIds": []})
    got = lambda_client.get_function_configuration(FunctionName="vpc-boto")["VpcConfig"]
    assert got["SubnetIds"] == ["none"] and got["VpcId"] == "lamina"
    version = lambda_client.publish_version(FunctionName="vpc-boto")
    assert version["VpcConfig"]["SubnetIds"] == ["none"]  # a version keeps it


def test_socket_directories_go_with_their_environments(client: Any, fns: Functions, invoker: Invoker,
                                                       components: Any, docker_env: Any) -> None:
    from lamina.executor.docker_env import socket_dir
    from lamina.scheduler.pool import Pool
    from lamina.scheduler.reaper import Reaper

    fns.create("socketed", {"app.py": PROBE})
    assert _vpc(client, "socketed", {"SubnetIds": ["none"]}).status_code == 200
    assert invoke(client, "socketed", {"targets": []}).status_code == 200
    [env] = [e for e in invoker.pool.snapshot().envs if e.function_name == "socketed"]
    data_dir = components.settings.data_dir
    live = socket_dir(data_dir, env.env_id)
    assert (live / "agent.sock").exists()
    stale = socket_dir(data_dir, "f" * 32)  # left by an environment nobody knows any more
    stale.mkdir(parents=True)
    os.utime(stale, (time.time() - 3600, time.time() - 3600))

    def reaper(clock: Any) -> Reaper:
        return Reaper(Pool(components.redis), docker_env, components.settings.instance, freeze_after_s=3600,
                      idle_timeout_s=60, clock=clock, data_dir=data_dir)

    reaper(time.time).sweep()
    assert live.is_dir() and not stale.exists()
    later = reaper(lambda: time.time() + 120)
    assert env.env_id in later.tick().reaped  # idle past its timeout: reaped
    later.sweep()
    assert not live.exists()
