"""Users inside an account (issue 5): a user with an identity policy may do only what it allows; without
one, everything in its account. `lamina admin put-user-policy` sets it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from lamina.cli.main import cli
from lamina.services.iam import iam
from support.lambda_api import ROLE, make_zip


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def test_a_read_only_user_with_boto3(lambda_client: Any, boto_for: Any, components: Any, settings: Any) -> None:
    account = components.settings.account_id
    lambda_client.create_function(FunctionName="shared", Role=ROLE, Runtime="python3.11", Handler="app.handler",
                                  Code={"ZipFile": make_zip()})
    iam.create_user(components, account, "auditor")
    key = iam.create_key(components, account, "auditor")
    env = {"LAMINA_DATABASE_URL": settings.database_url, "LAMINA_REDIS_URL": settings.redis_url,
           "LAMINA_DATA_DIR": str(settings.data_dir), "LAMINA_MIGRATE_ON_START": "false",
           "LAMINA_INSTANCE": settings.instance}
    policy = [{"Action": ["lambda:GetFunction", "lambda:ListFunctions"], "Resource": "*"}]
    out = CliRunner().invoke(cli, ["admin", "put-user-policy", account, "auditor", json.dumps(policy)], env=env)
    assert out.exit_code == 0, out.output
    components.extras.pop("iam.key_cache", None)  # what every API process does within iam.KEY_CACHE_TTL_S
    auditor = boto_for(key.access_key_id, key.secret_access_key)
    assert [f["FunctionName"] for f in auditor.list_functions()["Functions"]] == ["shared"]
    assert auditor.get_function(FunctionName="shared")["Configuration"]["FunctionName"] == "shared"
    with pytest.raises(ClientError) as err:
        auditor.create_function(FunctionName="mine", Role=ROLE, Runtime="python3.11", Handler="app.handler",
                                Code={"ZipFile": make_zip()})
    assert _code(err) == "AccessDeniedException"
    assert "user/auditor is not authorized to perform: lambda:CreateFunction" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        auditor.invoke(FunctionName="shared")
    assert _code(err) == "AccessDeniedException"
    with pytest.raises(ClientError) as err:
        auditor.delete_function(FunctionName="shared")
    assert _code(err) == "AccessDeniedException"
    # Lifted: the user has its account's full rights again.
    out = CliRunner().invoke(cli, ["admin", "put-user-policy", account, "auditor", "none"], env=env)
    assert out.exit_code == 0, out.output
    components.extras.pop("iam.key_cache", None)
    auditor.delete_function(FunctionName="shared")
    bad = CliRunner().invoke(cli, ["admin", "put-user-policy", account, "auditor", '[{"Resource": "*"}]'], env=env)
    assert bad.exit_code != 0 and "Invalid statement" in bad.output and "Traceback" not in bad.output
    missing = CliRunner().invoke(cli, ["admin", "put-user-policy", account, "nobody", "none"], env=env)
    assert missing.exit_code != 0 and "User not found" in missing.output
