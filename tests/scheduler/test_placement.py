"""Pure placement and reaper decisions: a snapshot and a time in, a decision out."""

from __future__ import annotations

from lamina.scheduler.placement import (
    ACCOUNT_LIMIT,
    RESERVED_LIMIT,
    Decision,
    Demand,
    EnvView,
    Snapshot,
    choose,
    evict,
    plan_idle,
)
from lamina.scheduler.states import ContainerState as S

A = "000000000000"


def env(env_id: str, state: S, last_used: float = 0.0, pool: str = "p1", fn: str = "f", memory: int = 128,
        revision: str = "r1", lease: float = 0.0) -> EnvView:
    return EnvView(env_id, pool, A, fn, "$LATEST", revision, state, last_used, memory, lease)


def demand(pool: str = "p1", fn: str = "f", reserved: int | None = None, limit: int = 1000,
           budget: int = 10_000, max_envs: int = 1000, memory: int = 128) -> Demand:
    return Demand(pool, A, fn, memory, reserved, limit, budget, max_envs)


def test_most_recently_used_warm_env_of_the_pool_wins() -> None:
    snap = Snapshot((env("a", S.WARM, 10), env("b", S.WARM, 20), env("c", S.WARM, 30, pool="p2"),
                     env("d", S.FROZEN, 40)))
    assert choose(snap, demand(), now=50) == choose(snap, demand(), now=99)
    assert choose(snap, demand(), now=50).env_id == "b"
    assert choose(snap, demand(), now=50).decision is Decision.WARM


def test_frozen_before_cold_and_busy_never_chosen() -> None:
    snap = Snapshot((env("a", S.BUSY), env("b", S.FROZEN, 5), env("c", S.FREEZING, 9)))
    placed = choose(snap, demand(), now=10)
    assert (placed.decision, placed.env_id) == (Decision.FROZEN, "b")
    assert choose(Snapshot((env("a", S.BUSY),)), demand(), now=10).decision is Decision.COLD


def test_reserved_concurrency_counts_starting_and_busy_only() -> None:
    snap = Snapshot((env("a", S.BUSY), env("b", S.STARTING), env("c", S.WARM)))
    assert choose(snap, demand(reserved=2), now=1).reason == RESERVED_LIMIT
    assert choose(snap, demand(reserved=3), now=1).decision is Decision.WARM
    assert choose(Snapshot(), demand(reserved=0), now=1).reason == RESERVED_LIMIT


def test_account_limit_counts_every_function() -> None:
    snap = Snapshot((env("a", S.BUSY, fn="g", pool="p9"), env("b", S.BUSY)))
    placed = choose(snap, demand(limit=2), now=1)
    assert (placed.decision, placed.reason) == (Decision.THROTTLE, ACCOUNT_LIMIT)


def test_eviction_takes_least_recently_used_idle_only_as_needed() -> None:
    snap = Snapshot((env("old", S.FROZEN, 1, pool="p2", memory=256), env("mid", S.WARM, 2, pool="p3"),
                     env("new", S.WARM, 3, pool="p4"), env("busy", S.BUSY, 0, pool="p5", memory=512)))
    # used = 256 + 128 + 128 + 512 = 1024; a 256 MB start in a 1100 MB budget frees 'old' only.
    placed = choose(snap, demand(budget=1100, memory=256), now=5)
    assert (placed.decision, placed.evict) == (Decision.COLD, ("old",))
    assert [v.env_id for v in evict(snap, 512, 1100, 1000) or []] == ["old", "mid", "new"]
    assert evict(snap, 700, 1100, 1000) is None  # the busy one can never be evicted
    assert choose(snap, demand(budget=1100, memory=700), now=5).reason == ACCOUNT_LIMIT
    assert [v.env_id for v in evict(snap, 1, 10_000, 4) or []] == ["old"]  # environment cap


def test_plan_idle_freezes_reaps_retires_and_expires() -> None:
    snap = Snapshot(
        (
            env("fresh", S.WARM, 95),
            env("cooling", S.WARM, 80),
            env("cold", S.FROZEN, 10),
            env("stale", S.WARM, 99, revision="r0"),
            env("running", S.BUSY, 0, lease=200),
            env("orphan", S.STARTING, 0, lease=50),
            env("pausing", S.FREEZING, 0),
        ),
        {(A, "f", "$LATEST"): "r1"},
    )
    plan = plan_idle(snap, now=100, freeze_after_s=10, idle_timeout_s=60)
    assert plan.freeze == ("cooling",)
    assert plan.reap == ("cold",)
    assert plan.retire == ("stale",)
    assert plan.expired == ("orphan",)


def test_plan_idle_without_known_revision_keeps_env() -> None:
    snap = Snapshot((env("a", S.WARM, 99, revision="whatever"),))
    assert plan_idle(snap, now=100, freeze_after_s=10, idle_timeout_s=60).retire == ()
