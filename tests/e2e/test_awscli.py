"""The aws CLI (v1) pointed at a live lamina with --endpoint-url: a few control-plane operations."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support.lambda_api import ROLE, make_zip


@pytest.fixture
def aws(live_server, tmp_path, credentials):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "",
    }

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "awscli", "lambda", *args, "--endpoint-url", live_server.url, "--output", "json"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


def test_create_get_list_delete_with_the_cli(aws, tmp_path):
    package = tmp_path / "fn.zip"
    package.write_bytes(make_zip())
    created = json.loads(aws("create-function", "--function-name", "cli-fn", "--runtime", "python3.11",
                             "--role", ROLE, "--handler", "app.handler", "--zip-file", f"fileb://{package}",
                             "--timeout", "10").stdout)
    assert created["FunctionName"] == "cli-fn" and created["Timeout"] == 10 and created["State"] == "Active"
    aws("wait", "function-active-v2", "--function-name", "cli-fn")
    listed = json.loads(aws("list-functions").stdout)
    assert [f["FunctionName"] for f in listed["Functions"]] == ["cli-fn"]
    published = json.loads(aws("publish-version", "--function-name", "cli-fn").stdout)
    assert published["Version"] == "1"
    missing = aws("get-function", "--function-name", "nope", ok=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    aws("delete-function", "--function-name", "cli-fn")
    gone = aws("get-function-configuration", "--function-name", "cli-fn", ok=False)
    assert "ResourceNotFoundException" in gone.stderr


def test_the_aws_cli_administers_users_and_keys_with_its_iam_commands(live_server, tmp_path, credentials):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials.access_key_id,
           "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
           "AWS_PAGER": ""}

    def iam(*args: str) -> dict:
        cmd = [sys.executable, "-m", "awscli", "iam", *args, "--endpoint-url", live_server.url, "--output", "json"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout or "{}")

    assert iam("create-user", "--user-name", "cli-user")["User"]["UserName"] == "cli-user"
    key = iam("create-access-key", "--user-name", "cli-user")["AccessKey"]
    iam("update-access-key", "--user-name", "cli-user", "--access-key-id", key["AccessKeyId"], "--status", "Inactive")
    listed = iam("list-access-keys", "--user-name", "cli-user")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key["AccessKeyId"], "Inactive")]
    iam("delete-access-key", "--user-name", "cli-user", "--access-key-id", key["AccessKeyId"])
    iam("delete-user", "--user-name", "cli-user")
    assert "cli-user" not in [u["UserName"] for u in iam("list-users")["Users"]]
