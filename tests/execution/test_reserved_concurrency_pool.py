"""Account concurrency as Lambda counts it: reserved functions keep their reservation, the others share
the rest (the account limit minus the sum of reservations, which the invoke path caches in Redis)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from lamina.errors import LambdaError
from lamina.scheduler import keys
from lamina.services.invoke.invocations import Invoker
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


@contextlib.contextmanager
def holding(client: Any, invoker: Invoker, name: str, seconds: float) -> Iterator[list[Any]]:
    """Run one invocation of ``name`` that holds its execution for ``seconds`` in the background; the body
    runs once it holds its slot, and the invocation's answer is in the yielded list afterwards."""
    app = client.application
    answers: list[Any] = []
    holder = threading.Thread(target=lambda: answers.append(invoke(app.test_client(), name, {"hold": seconds})))
    holder.start()
    deadline = time.monotonic() + 10
    while not any(e.state.holds_slot for e in invoker.pool.snapshot().envs) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield answers
    finally:
        holder.join()


def test_a_reserved_function_runs_while_the_unreserved_pool_is_busy(
    client: Any, fns: Functions, invoker: Invoker,
) -> None:
    fns.create("reserved", {"app.py": APP}, timeout=10)
    fns.create("shared", {"app.py": APP}, timeout=10)
    fns.put_concurrency("reserved", 2)
    invoker.pool.account_limit = 3  # a small account: 3 - 2 reserved = 1 unreserved execution
    with holding(client, invoker, "shared", 3) as answers:
        throttled = invoke(client, "shared")
        assert throttled.status_code == 429
        assert throttled.get_json()["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert invoke(client, "reserved").status_code == 200  # its reservation is its own
    assert answers[0].status_code == 200
    assert invoke(client, "shared").status_code == 200  # the unreserved execution is free again


def test_an_account_quota_caps_its_concurrency(client: Any, fns: Functions, invoker: Invoker, components: Any) -> None:
    from lamina.services.functions import concurrency

    account = invoker.settings.account_id
    fns.create("quota", {"app.py": APP}, timeout=10)
    assert invoke(client, "quota").status_code == 200
    concurrency.set_quotas(components, account, 1, None)  # `lamina admin set-quotas ACCOUNT --concurrency 1`
    settings = client.get("/2016-08-19/account-settings").get_json()["AccountLimit"]
    assert (settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]) == (1, 1)
    refused = client.put("/2017-10-31/functions/quota/concurrency", json={"ReservedConcurrentExecutions": 1})
    assert refused.status_code == 400 and "minimum value of [1]" in refused.get_json()["Message"]
    with holding(client, invoker, "quota", 3) as answers:
        throttled = invoke(client, "quota")
        assert throttled.status_code == 429
        assert throttled.get_json()["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert answers[0].status_code == 200
    # Back to the instance's default: two at once run again.
    concurrency.set_quotas(components, account, None, None)
    with holding(client, invoker, "quota", 2) as answers:
        assert invoke(client, "quota").status_code == 200
    assert answers[0].status_code == 200
    with pytest.raises(LambdaError):
        concurrency.set_quotas(components, account, 0, None)
