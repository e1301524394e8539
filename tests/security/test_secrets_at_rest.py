"""Environment variables are encrypted in the database, readable through the API, and survive rotate-key."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner
from lamina.cli.main import cli
from support.lambda_api import create


def _raw(components: Any) -> list[Any]:
    with components.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT environment FROM functions UNION ALL "
                                    "SELECT environment FROM function_versions")).scalars().all()
    return [json.loads(r) if isinstance(r, str) else r for r in rows]


def test_environment_is_encrypted_at_rest_and_rotates(client: Any, components: Any, settings: Any) -> None:
    create(client, "envfn", Environment={"Variables": {"DB_PASSWORD": "hunter2-secret"}}, Publish=True)
    raw = _raw(components)
    assert len(raw) == 2 and all(set(r) == {"fernet"} for r in raw)
    assert "hunter2-secret" not in json.dumps(raw)
    got = client.get("/2015-03-31/functions/envfn").get_json()
    assert got["Configuration"]["Environment"]["Variables"] == {"DB_PASSWORD": "hunter2-secret"}
    env = {"LAMINA_DATABASE_URL": settings.database_url, "LAMINA_REDIS_URL": settings.redis_url,
           "LAMINA_DATA_DIR": str(settings.data_dir), "LAMINA_MIGRATE_ON_START": "false"}
    out = CliRunner().invoke(cli, ["admin", "rotate-key"], env=env, catch_exceptions=False)
    assert out.exit_code == 0 and "2 function environment(s)" in out.output, out.output
    after = _raw(components)
    assert all(set(r) == {"fernet"} for r in after) and after != raw
    v1 = client.get("/2015-03-31/functions/envfn/configuration?Qualifier=1").get_json()
    assert v1["Environment"]["Variables"] == {"DB_PASSWORD": "hunter2-secret"}
