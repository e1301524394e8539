"""The Lua pool scripts on the real Redis: transitions, limits, eviction, and agreement with placement.py."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import redis as redis_lib
from lamina.errors import TooManyRequestsException
from lamina.scheduler import catalog, keys
from lamina.scheduler.placement import Decision, Demand, EnvView, Snapshot, choose
from lamina.scheduler.pool import Lease, Miss, Pool, ReservationsMiss
from lamina.scheduler.states import ContainerState as S

A = "000000000000"


def spec(fn: str = "f", version: str = "$LATEST", revision: str = "r1", **extra: Any) -> dict[str, Any]:
    doc = {"account_id": A, "function_name": fn, "version": version, "revision_id": revision,
           "memory_size": 128, "timeout": 3, "reserved_concurrency": None, "routing": {}}
    doc.update(extra)
    return doc


def put(r: redis_lib.Redis, doc: dict[str, Any], qualifier: str | None = None) -> None:
    gen = catalog.generation(r, A, doc["function_name"])
    assert catalog.fill(r, A, doc["function_name"], qualifier or doc["version"], doc, gen)
    if not r.exists(keys.reserved_total(A)):
        reservations(r, 0)


def reservations(r: redis_lib.Redis, total: int) -> None:
    """Cache the sum of the account's reservations, as the invoker does from PostgreSQL on a miss."""
    catalog.reservations_changed(r, A)
    assert catalog.fill_reservations(r, A, total, catalog.reservations_generation(r, A))


def take(pool: Pool, fn: str = "f", qualifier: str = "$LATEST", now: float = 100.0, rand: float = 0.5) -> Lease:
    got = pool.acquire(A, fn, qualifier, now=now, rand=rand, new_env_id=uuid.uuid4().hex)
    assert isinstance(got, Lease), got
    return got


def start(pool: Pool, lease: Lease) -> Lease:
    assert lease.decision is Decision.COLD
    assert pool.started(lease.env_id, f"10.0.0.{random.randint(2, 250)}", "c-" + lease.env_id)
    return lease


@pytest.fixture
def pool(redis: redis_lib.Redis) -> Pool:
    return Pool(redis, account_limit=1000, memory_budget_mb=100_000)


def test_miss_then_cold_then_warm_reuse(pool: Pool, redis: redis_lib.Redis) -> None:
    assert pool.acquire(A, "f", "$LATEST", now=1, rand=0.1, new_env_id="x" * 32) == ReservationsMiss()
    reservations(redis, 0)
    assert pool.acquire(A, "f", "$LATEST", now=1, rand=0.1, new_env_id="x" * 32) == Miss("$LATEST")
    put(redis, spec())
    first = start(pool, take(pool))
    assert pool.env(first.env_id)["state"] == "busy"
    assert pool.release(first.env_id, now=101).outcome == "ok"
    again = take(pool, now=102)
    assert (again.decision, again.env_id, again.container_id) == (Decision.WARM, first.env_id, "c-" + first.env_id)
    assert again.address.startswith("10.0.0.")
    assert again.spec["revision_id"] == "r1"


def test_keys_written_by_lua_match_keys_py(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec())
    lease = start(pool, take(pool))
    pool_key = keys.pool_id(A, "f", "$LATEST", "r1")
    assert redis.sismember(keys.all_envs(), lease.env_id)
    assert redis.zscore(keys.leases(), lease.env_id) is not None
    assert redis.zscore(keys.inflight_account(A), lease.env_id) is not None
    assert redis.zscore(keys.inflight_function(A, "f"), lease.env_id) is not None
    assert redis.hget(keys.env(lease.env_id), "pool").decode() == pool_key
    pool.release(lease.env_id, now=150)
    assert redis.zscore(keys.idle_pool(pool_key), lease.env_id) == 150
    assert redis.zscore(keys.warm_index(), lease.env_id) == 150
    assert redis.zcard(keys.inflight_function(A, "f")) == 0
    assert pool.begin_freeze(lease.env_id, now=200, freeze_after_s=10) == "c-" + lease.env_id
    assert pool.end_freeze(lease.env_id)
    assert redis.zscore(keys.frozen_pool(pool_key), lease.env_id) == 150
    assert redis.zscore(keys.frozen_index(), lease.env_id) == 150
    assert redis.hget(keys.current_revisions(A, "f"), "$LATEST") == b"r1"


def test_parallel_acquires_get_distinct_environments(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec())
    leases = [take(pool) for _ in range(5)]
    assert all(lease.decision is Decision.COLD for lease in leases)
    assert len({lease.env_id for lease in leases}) == 5
    assert redis.zcard(keys.inflight_account(A)) == 5


def test_reserved_concurrency_zero_throttles(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec(reserved_concurrency=0))
    with pytest.raises(TooManyRequestsException) as err:
        take(pool)
    assert err.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert err.value.status == 429


def test_reserved_and_account_limits(redis: redis_lib.Redis) -> None:
    pool = Pool(redis, account_limit=3, memory_budget_mb=100_000)
    put(redis, spec(reserved_concurrency=2))
    put(redis, spec(fn="g"))
    a, _b = take(pool), take(pool)
    with pytest.raises(TooManyRequestsException) as err:
        take(pool)
    assert err.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    take(pool, fn="g")
    with pytest.raises(TooManyRequestsException) as err:
        take(pool, fn="g")
    assert err.value.reason == "ConcurrentInvocationLimitExceeded"
    pool.discard(a.env_id)  # a freed slot is usable again
    take(pool, fn="g")


def test_unreserved_functions_share_what_the_reservations_leave(redis: redis_lib.Redis) -> None:
    # Account limit 5; f reserves 2, so functions without a reservation (g, h) share 3 between them.
    pool = Pool(redis, account_limit=5, memory_budget_mb=100_000)
    put(redis, spec(fn="f", reserved_concurrency=2))
    put(redis, spec(fn="g"))
    put(redis, spec(fn="h"))
    reservations(redis, 2)
    g1, _g2 = take(pool, "g"), take(pool, "g")
    take(pool, "h")
    with pytest.raises(TooManyRequestsException) as err:
        take(pool, "h")  # the unreserved pool (5 - 2) is busy
    assert err.value.reason == "ConcurrentInvocationLimitExceeded"
    # ... but f may still use its whole reservation, and no more.
    f1, _f2 = take(pool, "f"), take(pool, "f")
    with pytest.raises(TooManyRequestsException) as err:
        take(pool, "f")
    assert err.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert redis.zcard(keys.inflight_account(A)) == 5
    assert redis.zcard(keys.inflight_unreserved(A)) == 3
    # A freed reserved slot does not widen the unreserved pool; a freed unreserved one does.
    pool.discard(f1.env_id)
    with pytest.raises(TooManyRequestsException):
        take(pool, "h")
    start(pool, g1)
    assert pool.release(g1.env_id, now=101).outcome == "ok"
    assert redis.zcard(keys.inflight_unreserved(A)) == 2
    take(pool, "h")
    take(pool, "f")


def test_a_changed_reservation_sum_is_read_again(redis: redis_lib.Redis) -> None:
    pool = Pool(redis, account_limit=3, memory_budget_mb=100_000)
    put(redis, spec(fn="g"))
    reservations(redis, 2)  # another function reserves 2 of 3
    take(pool, "g")
    with pytest.raises(TooManyRequestsException):
        take(pool, "g")
    catalog.reservations_changed(redis, A)  # the control plane deleted that reservation
    assert pool.acquire(A, "g", "$LATEST", now=1, rand=0.5, new_env_id="y" * 32) == ReservationsMiss()
    gen = catalog.reservations_generation(redis, A)
    catalog.reservations_changed(redis, A)  # a fill that raced with a change is dropped
    assert not catalog.fill_reservations(redis, A, 2, gen)
    reservations(redis, 0)
    take(pool, "g")
    take(pool, "g")


def test_weighted_alias_picks_additional_version_by_weight(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec(version="1", revision="v1", alias="live", routing={"2": 0.3}), "live")
    assert pool.acquire(A, "f", "live", now=1, rand=0.1, new_env_id="e" * 32) == Miss("2")
    put(redis, spec(version="2", revision="v2"))
    assert take(pool, "f", "live", rand=0.29).spec["version"] == "2"
    assert take(pool, "f", "live", rand=0.31).spec["version"] == "1"


def test_new_revision_drains_old_environments(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec(revision="r1"))
    busy = start(pool, take(pool))
    idle = start(pool, take(pool))
    pool.release(idle.env_id, now=101)
    catalog.invalidate(redis, A, "f")
    put(redis, spec(revision="r2"))
    fresh = take(pool)
    assert fresh.decision is Decision.COLD and fresh.spec["revision_id"] == "r2"
    released = pool.release(busy.env_id, now=102)
    assert (released.outcome, released.container_ids) == ("retired", ("c-" + busy.env_id,))
    assert not redis.exists(keys.env(busy.env_id))
    assert pool.reap_if(idle.env_id, now=103, mode="retire") == ["c-" + idle.env_id]
    assert pool.reap_if(fresh.env_id, now=103, mode="retire") is None


def test_discard_frees_slot_and_memory(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec(memory_size=256))
    lease = start(pool, take(pool))
    assert int(redis.get("lamina:memory")) == 256
    assert pool.discard(lease.env_id) == ["c-" + lease.env_id]
    assert int(redis.get("lamina:memory")) == 0
    assert redis.zcard(keys.inflight_account(A)) == 0
    assert pool.discard(lease.env_id) == []
    assert pool.release(lease.env_id, now=1).outcome == "gone"
    assert not pool.started(lease.env_id, "10.0.0.9", "c")


def test_memory_budget_evicts_least_recently_used_idle(redis: redis_lib.Redis) -> None:
    pool = Pool(redis, memory_budget_mb=300)
    put(redis, spec(fn="f"))
    put(redis, spec(fn="g"))
    old = start(pool, take(pool, "f"))
    new = start(pool, take(pool, "g"))
    pool.release(old.env_id, now=10)
    pool.release(new.env_id, now=20)
    third = take(pool, "f", now=30)  # warm reuse: nothing evicted
    assert third.decision is Decision.WARM and not third.evicted
    pool.release(third.env_id, now=40)
    # A third environment of 128 MB needs 384 MB > 300: evict the least recently used idle one (g's).
    busy_f = take(pool, "f", now=41)
    assert busy_f.decision is Decision.WARM
    cold = take(pool, "f", now=42)
    assert cold.decision is Decision.COLD and cold.evicted == ("c-" + new.env_id,)
    with pytest.raises(TooManyRequestsException):
        take(pool, "f", now=43)  # both remaining are busy: no room


def test_freeze_thaw_and_reap_are_compare_and_set(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec())
    lease = start(pool, take(pool))
    pool.release(lease.env_id, now=100)
    assert pool.begin_freeze(lease.env_id, now=105, freeze_after_s=10) is None  # not idle long enough
    assert pool.begin_freeze(lease.env_id, now=111, freeze_after_s=10)
    assert take(pool, now=112).decision is Decision.COLD  # a freezing env is not handed out
    assert pool.end_freeze(lease.env_id)
    assert pool.reap_if(lease.env_id, now=120, mode="idle", limit_s=60) is None
    thawed = take(pool, now=121)
    assert (thawed.decision, thawed.env_id) == (Decision.FROZEN, lease.env_id)
    assert pool.reap_if(lease.env_id, now=1000, mode="idle", limit_s=60) is None  # busy now
    pool.release(lease.env_id, now=130)
    assert pool.reap_if(lease.env_id, now=200, mode="idle", limit_s=60) == ["c-" + lease.env_id]


def test_expired_lease_is_collected(pool: Pool, redis: redis_lib.Redis) -> None:
    put(redis, spec(timeout=3))
    lease = take(pool, now=100)  # STARTING, lease until 100 + 3 + margin
    assert pool.reap_if(lease.env_id, now=120, mode="expired") is None
    assert pool.reap_if(lease.env_id, now=100 + 3 + pool.lease_margin_s + 1, mode="expired") == []
    assert redis.zcard(keys.inflight_function(A, "f")) == 0


def test_a_cold_start_takes_a_sandbox_that_leaves_with_its_environment(pool: Pool, redis: redis_lib.Redis) -> None:
    assert pool.reserve_sandbox(now=1, target=2, token="t1")
    assert pool.reserve_sandbox(now=1, target=2, token="t2")
    assert not pool.reserve_sandbox(now=1, target=2, token="t3")  # two already being created
    pool.add_sandbox("t1", "sb1", "10.0.0.7")
    pool.add_sandbox("t2")  # creation failed: the claim is given back
    assert pool.reserve_sandbox(now=1, target=2, token="t4")
    assert pool.reserve_sandbox(now=100, target=3, token="t5")  # t4's claim lapsed after its TTL
    assert pool.free_sandboxes() == [("sb1", "10.0.0.7")]
    put(redis, spec())
    lease = take(pool)
    assert (lease.sandbox_id, lease.address) == ("sb1", "10.0.0.7")
    assert pool.free_sandboxes() == []
    assert take(pool).sandbox_id == ""  # none left: a plain bridge start
    pool.started(lease.env_id, "10.0.0.7", "c1")
    assert pool.discard(lease.env_id) == ["c1", "sb1"]  # the environment first, then its sandbox


def test_catalog_fill_loses_to_a_racing_invalidation(redis: redis_lib.Redis) -> None:
    gen = catalog.generation(redis, A, "f")
    catalog.invalidate(redis, A, "f")  # the control plane committed a change after we read the database
    assert not catalog.fill(redis, A, "f", "$LATEST", spec(), gen)
    assert catalog.get(redis, A, "f", "$LATEST") is None
    assert catalog.fill(redis, A, "f", "$LATEST", spec(), catalog.generation(redis, A, "f"))
    assert catalog.get(redis, A, "f", "$LATEST")["revision_id"] == "r1"


def _load(redis: redis_lib.Redis, envs: list[EnvView]) -> None:
    """Write a snapshot straight into Redis with keys.py's layout (what the scripts would have written)."""
    used = 0
    for e in envs:
        redis.hset(keys.env(e.env_id), mapping={
            "state": e.state.value, "pool": e.pool, "account": e.account_id, "function": e.function_name,
            "version": e.version, "revision": e.revision_id, "memory": e.memory_mb, "last_used": e.last_used,
            "lease_until": e.lease_until, "container": "c-" + e.env_id, "address": "10.0.0.2",
            "unreserved": int(e.unreserved)})
        redis.sadd(keys.all_envs(), e.env_id)
        used += e.memory_mb
        if e.state is S.WARM:
            redis.zadd(keys.idle_pool(e.pool), {e.env_id: e.last_used})
            redis.zadd(keys.warm_index(), {e.env_id: e.last_used})
        elif e.state is S.FROZEN:
            redis.zadd(keys.frozen_pool(e.pool), {e.env_id: e.last_used})
            redis.zadd(keys.frozen_index(), {e.env_id: e.last_used})
        elif e.state.holds_slot:
            for k in (keys.leases(), keys.inflight_account(e.account_id),
                      keys.inflight_function(e.account_id, e.function_name)):
                redis.zadd(k, {e.env_id: e.lease_until})
            if e.unreserved:
                redis.zadd(keys.inflight_unreserved(e.account_id), {e.env_id: e.lease_until})
    redis.set("lamina:memory", used)


@pytest.mark.parametrize("seed", range(40))
def test_lua_acquire_agrees_with_placement_choose(redis: redis_lib.Redis, seed: int) -> None:
    rng = random.Random(seed)
    redis.flushdb()
    fns = ["f", "g", "h"]
    states = [S.WARM, S.WARM, S.FROZEN, S.BUSY, S.STARTING, S.FREEZING]
    envs = []
    for i in range(rng.randint(0, 9)):
        fn = rng.choice(fns)
        rev = rng.choice(["r1", "r1", "r0"])
        envs.append(EnvView(f"{i:02d}" + "0" * 30, keys.pool_id(A, fn, "$LATEST", rev), A, fn, "$LATEST", rev,
                            rng.choice(states), float(rng.randint(1, 5)), rng.choice([128, 256]), 1e12,
                            unreserved=rng.random() < 0.6))
    _load(redis, envs)
    reserved = rng.choice([None, None, 0, 1, 2, 3])
    reserved_total = rng.choice([0, 0, 1, 2, 4])
    reservations(redis, reserved_total)
    limit = rng.randint(1, 6)
    budget = rng.choice([10_000, 1024, 700])
    max_envs = rng.choice([1000, 6, 4])
    pool = Pool(redis, account_limit=limit, memory_budget_mb=budget, max_envs=max_envs)
    put(redis, spec(fn="f", revision="r1", reserved_concurrency=reserved))
    expected = choose(
        Snapshot(tuple(envs)),
        Demand(keys.pool_id(A, "f", "$LATEST", "r1"), A, "f", 128, reserved, limit, budget, max_envs,
               reserved_total),
        now=10,
    )
    try:
        got = pool.acquire(A, "f", "$LATEST", now=10, rand=0.5, new_env_id="n" * 32)
    except TooManyRequestsException as err:
        assert (expected.decision, expected.reason) == (Decision.THROTTLE, err.reason)
        return
    assert isinstance(got, Lease)
    assert got.decision is expected.decision
    if got.decision is Decision.COLD:
        assert got.evicted == tuple("c-" + v for v in expected.evict)
    else:
        assert got.env_id == expected.env_id
