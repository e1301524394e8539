"""Account concurrency as Lambda counts it: reserved functions keep their reservation, the others share
the rest (the account limit minus the sum of reservations, which the invoke path caches in Redis)."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis as redis_lib
from lamina.scheduler import keys
from lamina.services.invocations import Invoker
from support.functions import Functions
from support.invoking import invoke

APP = """
import time


def handler(event, context):
    time.sleep(event.get("hold", 0))
    return {"ok": True}
"""


def cached_sum(redis: redis_lib.Redis, account_id: str) -> int | None:
    raw = redis.get(keys.reserved_total(account_id))
    return None if raw is None else int(raw)


def test_the_sum_of_reservations_follows_the_control_plane(
    client: Any, fns: Functions, invoker: Invoker, redis: redis_lib.Redis,
) -> None:
    account = invoker.settings.account_id
    fns.create("alpha", {"app.py": APP})
    fns.create("beta", {"app.py": APP})
    fns.put_concurrency("alpha", 5)
    assert invoke(client, "beta").status_code == 200
    assert cached_sum(redis, account) == 5  # read from PostgreSQL on the first invoke
    fns.put_concurrency("beta", 7)
    assert cached_sum(redis, account) is None  # a change forgets it ...
    assert invoke(client, "beta").status_code == 200
    assert cached_sum(redis, account) == 12  # ... and the next invoke reads it again
    resp = client.delete("/2017-10-31/functions/alpha/concurrency")
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert invoke(client, "beta").status_code == 200
    assert cached_sum(redis, account) == 7
    assert client.delete("/2015-03-31/functions/beta").status_code == 204  # its reservation goes with it
    assert invoke(client, "alpha").status_code == 200
    assert cached_sum(redis, account) == 0


def test_a_reserved_function_runs_while_the_unreserved_pool_is_busy(
    client: Any, fns: Functions, invoker: Invoker,
) -> None:
    fns.create("reserved", {"app.py": APP}, timeout=10)
    fns.create("shared", {"app.py": APP}, timeout=10)
    fns.put_concurrency("reserved", 2)
    invoker.pool.account_limit = 3  # a small account: 3 - 2 reserved = 1 unreserved execution
    app = client.application
    answers: list[Any] = []
    holder = threading.Thread(target=lambda: answers.append(invoke(app.test_client(), "shared", {"hold": 3})))
    holder.start()
    deadline = time.monotonic() + 10
    while not any(e.state.holds_slot for e in invoker.pool.snapshot().envs) and time.monotonic() < deadline:
        time.sleep(0.05)
    throttled = invoke(client, "shared")
    assert throttled.status_code == 429
    assert throttled.get_json()["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert invoke(client, "reserved").status_code == 200  # its reservation is its own
    holder.join()
    assert answers[0].status_code == 200
    assert invoke(client, "shared").status_code == 200  # the unreserved execution is free again
