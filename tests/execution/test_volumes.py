"""Shared file systems (FileSystemConfigs, the EFS analogue): every function of the account that names a
volume mounts the same files read-write as the sandbox user; the volume outlives its functions; the
settings are validated as Lambda's and returned by Get/List; `lamina volumes` lists and deletes them."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from lamina.cli.main import cli
from support.lambda_api import ROLE

pytestmark = pytest.mark.docker

APP = """
import json, os

def handler(event, context):
    path = os.environ["MOUNT"]
    if event.get("write"):
        with open(os.path.join(path, "shared.txt"), "w") as f:
            f.write(event["write"])
    with open(os.path.join(path, "shared.txt")) as f:
        text = f.read()
    st = os.stat(path)
    return {"text": text, "uid": os.getuid(), "owner": st.st_uid, "mounts": path in open("/proc/mounts").read()}
"""
ARN = "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/team-data"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", APP)
    return buf.getvalue()


def _create(lambda_client: Any, name: str, mount: str, arn: str = ARN) -> dict[str, Any]:
    return lambda_client.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Code={"ZipFile": _zip()},
        Environment={"Variables": {"MOUNT": mount}},
        FileSystemConfigs=[{"Arn": arn, "LocalMountPath": mount}])


def _invoke(lambda_client: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    resp = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def test_functions_of_an_account_share_a_volume_that_outlives_them(lambda_client: Any, live_server: Any,
                                                                   settings: Any, invoker: Any) -> None:
    made = _create(lambda_client, "writer", "/mnt/data")
    assert made["FileSystemConfigs"] == [{"Arn": ARN, "LocalMountPath": "/mnt/data"}]
    _create(lambda_client, "reader", "/mnt/shared")
    assert lambda_client.get_function_configuration(FunctionName="reader")["FileSystemConfigs"] == [
        {"Arn": ARN, "LocalMountPath": "/mnt/shared"}]
    wrote = _invoke(lambda_client, "writer", {"write": "hello from writer"})
    assert wrote == {"text": "hello from writer", "uid": 993, "owner": 993, "mounts": True}
    assert _invoke(lambda_client, "reader", {})["text"] == "hello from writer"
    assert (settings.data_dir / "volumes" / "000000000000" / "team-data" / "shared.txt").read_text() == \
        "hello from writer"
    lambda_client.delete_function(FunctionName="writer")
    runner = CliRunner()
    listed = runner.invoke(cli, ["volumes", "list", "--endpoint", live_server.url, "--json"])
    assert listed.exit_code == 0, listed.output
    [vol] = json.loads(listed.output)["Volumes"]
    assert vol["Name"] == "team-data" and vol["UsedBy"] == ["reader:$LATEST"] and vol["Files"] == 1
    refused = runner.invoke(cli, ["volumes", "delete", "team-data", "--endpoint", live_server.url])
    assert refused.exit_code != 0 and "mounted by reader" in refused.output
    lambda_client.update_function_configuration(FunctionName="reader", FileSystemConfigs=[])
    assert "FileSystemConfigs" not in lambda_client.get_function_configuration(FunctionName="reader")
    done = runner.invoke(cli, ["volumes", "delete", "team-data", "--endpoint", live_server.url])
    assert done.exit_code == 0, done.output
    assert not (settings.data_dir / "volumes" / "000000000000" / "team-data").exists()


def test_file_system_configs_are_validated(lambda_client: Any) -> None:
    bad = [
        [{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:file-system/fs-1", "LocalMountPath": "/mnt/a"}],
        [{"Arn": "arn:aws:elasticfilesystem:us-east-1:111111111111:access-point/other", "LocalMountPath": "/mnt/a"}],
        [{"Arn": "arn:aws:elasticfilesystem:eu-west-1:000000000000:access-point/x", "LocalMountPath": "/mnt/a"}],
        [{"Arn": ARN, "LocalMountPath": "/tmp/a"}],
        [{"Arn": ARN, "LocalMountPath": "/mnt/a"}, {"Arn": ARN, "LocalMountPath": "/mnt/b"}],
    ]
    for configs in bad:
        with pytest.raises(ClientError) as err:
            lambda_client.create_function(FunctionName="fs-bad", Runtime="python3.11", Role=ROLE,
                                          Handler="app.handler", Code={"ZipFile": _zip()}, FileSystemConfigs=configs)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValueException", configs
    assert lambda_client.list_functions()["Functions"] == []
