"""The invoke path's spec cache lives in Redis, which writes it to disk (AOF): a function's environment
variables stay encrypted there and are opened only to start its container."""

from __future__ import annotations

from typing import Any

from lamina.scheduler import keys
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke

APP = "import os\n\ndef handler(event, context):\n    return os.environ['DB_PASSWORD']\n"


def test_cached_specs_keep_environment_variables_encrypted(
    client: Any, fns: Functions, invoker: Invoker, redis: Any,
) -> None:
    fns.create("sealed", {"app.py": APP}, env={"DB_PASSWORD": "hunter2-secret"})
    resp = invoke(client, "sealed")
    assert resp.status_code == 200 and resp.get_json() == "hunter2-secret"
    cached = redis.hgetall(keys.function_specs(invoker.settings.account_id, "sealed"))
    assert cached and all(b"hunter2-secret" not in v for v in cached.values())
    assert all(b'"environment":"fernet:' in v for v in cached.values())


def test_a_spec_sealed_under_a_retired_master_key_is_read_again(
    client: Any, fns: Functions, invoker: Invoker, redis: Any,
) -> None:
    fns.create("resealed", {"app.py": APP}, env={"DB_PASSWORD": "hunter2-secret"})
    assert invoke(client, "resealed").status_code == 200  # the spec is cached, sealed under today's key
    for view in invoker.pool.snapshot().envs:
        if view.function_name == "resealed":
            invoker.environments.forget(view.env_id)
    key = keys.function_specs(invoker.settings.account_id, "resealed")
    spec = redis.hget(key, "$LATEST")
    redis.hset(key, "$LATEST", spec.replace(b'"environment":"fernet:', b'"environment":"fernet:x'))
    resp = invoke(client, "resealed")  # a cold start: the sealed value does not open, so it is re-read
    assert resp.status_code == 200 and resp.get_json() == "hunter2-secret"
