"""Provisioned concurrency on the scheduler's side: which environments are provisioned for a version or
an alias, how many are ready, and marking a new one.

A provisioned environment is an ordinary environment of its pool with ``provisioned=1`` on its record
(the reaper never freezes or reaps it: ``placement.plan_idle``) and its id in the configuration's set. It
is initialized ahead (``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``), then waits in the pool
as warm, where any invocation of its pool may take it; invocations beyond the provisioned ones spill over
to on-demand environments. One that dies is dropped from the set by ``live`` and replaced by the next
provisioning round (``Invoker.provision``).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from lamina.scheduler import keys

READY_STATES = ("warm", "frozen", "busy")


@dataclass(frozen=True)
class Counts:
    allocated: int  # environments initialized (or initializing) for the configuration
    available: int  # of those, ready now (initialized, running or idle)
    busy: int  # of those, running an invocation now


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def live(client: redis.Redis, account_id: str, function_name: str, qualifier: str) -> dict[str, str]:
    """The configuration's environments that still exist: env id -> state (the others are dropped)."""
    key = keys.provisioned_envs(account_id, function_name, qualifier)
    ids = sorted(_s(i) for i in client.smembers(key))
    pipe = client.pipeline(transaction=False)
    for env_id in ids:
        pipe.hmget(keys.env(env_id), "state", "provisioning")
    # One still being initialized counts as allocated, not yet available.
    states = [("initializing" if _s(init) == "1" and _s(state) else _s(state)) for state, init in pipe.execute()]
    gone = [env_id for env_id, state in zip(ids, states, strict=True) if not state]
    if gone:
        client.srem(key, *gone)
    return {env_id: state for env_id, state in zip(ids, states, strict=True) if state}


def initialized(client: redis.Redis, env_id: str) -> None:
    """The provisioned environment ``env_id`` has initialized (it counts as available from now)."""
    client.hdel(keys.env(env_id), "provisioning")


def counts(client: redis.Redis, account_id: str, function_name: str, qualifier: str) -> Counts:
    states = list(live(client, account_id, function_name, qualifier).values())
    return Counts(allocated=len(states), available=sum(s in READY_STATES for s in states),
                  busy=sum(s == "busy" for s in states))


def mark(client: redis.Redis, account_id: str, function_name: str, qualifier: str, env_id: str) -> None:
    """Record ``env_id`` (a starting environment) as provisioned for the configuration."""
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.env(env_id), mapping={"provisioned": "1", "provisioning": "1"})
    pipe.sadd(keys.provisioned_envs(account_id, function_name, qualifier), env_id)
    pipe.execute()


def unmark(client: redis.Redis, account_id: str, function_name: str, qualifier: str, env_id: str) -> None:
    client.srem(keys.provisioned_envs(account_id, function_name, qualifier), env_id)
    client.hdel(keys.env(env_id), "provisioned")


def failure(client: redis.Redis, account_id: str, function_name: str, qualifier: str) -> str | None:
    reason = client.get(keys.provisioned_failure(account_id, function_name, qualifier))
    return _s(reason) if reason else None


def set_failure(client: redis.Redis, account_id: str, function_name: str, qualifier: str,
                reason: str | None) -> None:
    key = keys.provisioned_failure(account_id, function_name, qualifier)
    if reason:
        client.set(key, reason[:1000], ex=3600)
    else:
        client.delete(key)


def count_invocation(client: redis.Redis, account_id: str, function_name: str, on_provisioned: bool) -> None:
    client.hincrby(keys.provisioned_counts(account_id, function_name),
                   "provisioned" if on_provisioned else "spillover", 1)


def invocation_counts(client: redis.Redis, account_id: str, function_name: str) -> tuple[int, int]:
    """(invocations on provisioned environments, spillover invocations) of the function so far."""
    raw = client.hgetall(keys.provisioned_counts(account_id, function_name))
    got = {_s(k): int(v) for k, v in raw.items()}
    return got.get("provisioned", 0), got.get("spillover", 0)
