"""`lamina admin`: create-account / create-user / create-key print a key that works; rotate-key re-encrypts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from lamina.cli.main import cli


@pytest.fixture
def admin_env(settings: Any) -> dict[str, str]:
    return {"LAMINA_DATABASE_URL": settings.database_url, "LAMINA_REDIS_URL": settings.redis_url,
            "LAMINA_DATA_DIR": str(settings.data_dir), "LAMINA_MIGRATE_ON_START": "false",
            "LAMINA_INSTANCE": settings.instance}


def _admin(env: dict[str, str], *args: str) -> str:
    out = CliRunner().invoke(cli, ["admin", *args], env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.output


def test_create_account_user_key_and_use_them(admin_env: dict[str, str], boto_for: Any, credentials: Any) -> None:
    made = json.loads(_admin(admin_env, "create-account", "team-c", "--account-id", "333333333333", "--json"))
    assert made["AccountId"] == "333333333333" and made["AccessKeyId"].startswith("LKIA")
    client = boto_for(made["AccessKeyId"], made["SecretAccessKey"])
    assert client.list_functions()["Functions"] == []
    user = json.loads(_admin(admin_env, "create-user", "333333333333", "carol", "--json"))
    assert boto_for(user["AccessKeyId"], user["SecretAccessKey"]).list_functions()["Functions"] == []
    again = json.loads(_admin(admin_env, "create-key", "333333333333", "carol", "--json"))
    assert again["AccessKeyId"] != user["AccessKeyId"]
    assert "333333333333  team-c" in _admin(admin_env, "accounts")
    _admin(admin_env, "delete-key", user["AccessKeyId"])
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        boto_for(user["AccessKeyId"], user["SecretAccessKey"]).list_functions()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    # The default account exists already (the fixtures made it): bootstrap refuses a second time.
    out = CliRunner().invoke(cli, ["admin", "bootstrap"], env=admin_env)
    assert out.exit_code != 0 and "already bootstrapped" in out.output


def test_rotate_key_reencrypts_and_old_secrets_keep_working(admin_env: dict[str, str], settings: Any,
                                                            components: Any, credentials: Any,
                                                            boto_for: Any) -> None:
    import sqlalchemy as sa
    from lamina.services.iam import secrets

    def stored() -> str:
        with components.engine.connect() as conn:
            return conn.execute(sa.text("SELECT secret_enc FROM access_keys WHERE key_id = :k"),
                                {"k": credentials.access_key_id}).scalar_one()

    before, keys_before = stored(), secrets.master_keys(settings)
    assert "re-encrypted" in _admin(admin_env, "rotate-key")
    keys_after = secrets.master_keys(settings)
    assert len(keys_after) == len(keys_before) + 1 and keys_after[1:] == keys_before
    assert stored() != before
    # Encrypted under the newest key alone: decryptable without the old ones.
    from cryptography.fernet import Fernet

    assert Fernet(keys_after[0].encode()).decrypt(stored()[len(secrets.PREFIX):].encode()).decode() \
        == credentials.secret_access_key
    assert boto_for(credentials.access_key_id, credentials.secret_access_key).list_functions()["Functions"] == []
    assert (settings.data_dir / "master.key").stat().st_mode & 0o777 == 0o600


def test_set_quotas_shows_in_account_settings(admin_env: dict[str, str], boto_for: Any) -> None:
    made = json.loads(_admin(admin_env, "create-account", "team-q", "--account-id", "444444444444", "--json"))
    client = boto_for(made["AccessKeyId"], made["SecretAccessKey"])
    out = _admin(admin_env, "set-quotas", "444444444444", "--concurrency", "50", "--api-rate", "20")
    assert "concurrency 50" in out and "API rate 20/s" in out
    limits = client.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (50, 50)
    assert "concurrency 50, API rate" in _admin(admin_env, "set-quotas", "444444444444", "--api-rate", "default")
    assert "(default)" in _admin(admin_env, "set-quotas", "444444444444", "--concurrency", "default")
    for bad in (["--concurrency", "many"], ["--concurrency", "0"], ["--api-rate", "-3"]):
        out = CliRunner().invoke(cli, ["admin", "set-quotas", "444444444444", *bad], env=admin_env)
        assert out.exit_code != 0 and "Traceback" not in out.output, out.output
    out = CliRunner().invoke(cli, ["admin", "set-quotas", "999999999999", "--concurrency", "5"], env=admin_env)
    assert out.exit_code != 0 and "Account not found" in out.output
