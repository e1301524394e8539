"""Runtime versions (issue 13, item 5): every configuration carries RuntimeVersionConfig, tied to the id of
the runtime image it runs on; PutRuntimeManagementConfig (Auto, FunctionUpdate, Manual) decides when a
function moves to a rebuilt image. A rebuild is played by pointing lamina/python:latest at another image."""

from __future__ import annotations

from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError
from lamina.services.functions import runtime_versions
from support.functions import Functions
from support.invoking import invoke

APP = "import sys\ndef handler(e, c):\n    return list(sys.version_info[:2])\n"


def test_runtime_versions_follow_the_update_mode(client: Any, fns: Functions, lambda_client: Any,
                                                 docker_client: docker.DockerClient, components: Any) -> None:
    image = docker_client.images.get("lamina/python:latest")
    arn = f"arn:aws:lambda:us-east-1::runtime:{image.id.removeprefix('sha256:')}"
    for name in ("rv-auto", "rv-pinned", "rv-on-update"):
        fns.create(name, {"app.py": APP})
    got = lambda_client.get_function_configuration(FunctionName="rv-auto")
    assert got["RuntimeVersionConfig"] == {"RuntimeVersionArn": arn}
    assert lambda_client.get_runtime_management_config(FunctionName="rv-auto")["UpdateRuntimeOn"] == "Auto"
    pinned = lambda_client.put_runtime_management_config(FunctionName="rv-pinned", UpdateRuntimeOn="Manual",
                                                         RuntimeVersionArn=arn)
    assert pinned["UpdateRuntimeOn"] == "Manual" and pinned["RuntimeVersionArn"] == arn
    lambda_client.put_runtime_management_config(FunctionName="rv-on-update", UpdateRuntimeOn="FunctionUpdate")
    assert lambda_client.get_runtime_management_config(FunctionName="rv-pinned")["RuntimeVersionArn"] == arn

    # "Rebuild" the python3.11 image: its tag now names another image (python3.13's).
    newer = docker_client.images.get("lamina/python3.13:latest")
    newer.tag("lamina/python", "latest")
    runtime_versions._current.clear()
    try:
        new_arn = f"arn:aws:lambda:us-east-1::runtime:{newer.id.removeprefix('sha256:')}"
        assert invoke(client, "rv-auto").get_json() == [3, 13]  # Auto: the new image
        assert invoke(client, "rv-pinned").get_json() == [3, 11]  # Manual: the pinned one, by id
        assert invoke(client, "rv-on-update").get_json() == [3, 11]  # until the function changes
        assert lambda_client.get_function_configuration(FunctionName="rv-auto")["RuntimeVersionConfig"] == {
            "RuntimeVersionArn": new_arn}
        assert lambda_client.get_function_configuration(FunctionName="rv-pinned")["RuntimeVersionConfig"] == {
            "RuntimeVersionArn": arn}
        lambda_client.update_function_configuration(FunctionName="rv-on-update", Timeout=5)
        assert invoke(client, "rv-on-update").get_json() == [3, 13]  # moved with the update
    finally:
        image.tag("lamina/python", "latest")
        runtime_versions._current.clear()


def test_bad_runtime_management_configs_are_refused(fns: Functions, lambda_client: Any) -> None:
    fns.create("rv-bad", {"app.py": APP})
    for kwargs in ({"UpdateRuntimeOn": "Manual"},
                   {"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": "arn:aws:lambda:us-east-1::runtime:" + "0" * 64},
                   {"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": "arn:aws:lambda:us-east-1::runtime:" + "a" * 64}):
        with pytest.raises(ClientError) as err:
            lambda_client.put_runtime_management_config(FunctionName="rv-bad", **kwargs)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValueException", kwargs
    with pytest.raises(ClientError) as err:
        lambda_client.get_runtime_management_config(FunctionName="rv-missing")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
