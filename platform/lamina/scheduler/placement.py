"""Placement and eviction decisions as pure functions of a snapshot and the time (OpenWhisk's model).

``choose`` says where one invocation goes; ``evict`` which idle environments make room for a cold start;
``plan_idle`` what the reaper does to idle, stale and abandoned environments. None of them touches
Redis or Docker: ``pool.py`` runs ``choose``/``evict`` atomically as a Lua script on the invoke path
(and ``tests/scheduler`` checks the script against these functions on the same snapshots), and the
reaper applies ``plan_idle`` through compare-and-set scripts so a decision made on a stale snapshot is
simply skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from lamina.scheduler.states import ContainerState

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True)
class EnvView:
    """What the scheduler knows about one environment."""

    env_id: str
    pool: str
    account_id: str
    function_name: str
    version: str
    revision_id: str
    state: ContainerState
    last_used: float
    memory_mb: int = 128
    lease_until: float = 0.0
    container_id: str = ""
    sandbox_id: str = ""
    unreserved: bool = False  # its slot was taken by a function without reserved concurrency
    provisioned: bool = False  # provisioned concurrency: never frozen or reaped while configured
    extensions: bool = False  # it runs extensions: stopped (their SHUTDOWN) before it is removed
    node: str = ""  # the fleet node whose Docker engine runs it ("" on one machine)


@dataclass(frozen=True)
class Snapshot:
    envs: tuple[EnvView, ...] = ()
    # (account_id, function_name, version) -> the revision id environments must run.
    current_revisions: Mapping[tuple[str, str, str], str] = field(default_factory=dict)

    def in_flight(self, account_id: str, function_name: str | None = None) -> int:
        return sum(
            1
            for e in self.envs
            if e.state.holds_slot
            and e.account_id == account_id
            and (function_name is None or e.function_name == function_name)
        )

    def in_flight_unreserved(self, account_id: str) -> int:
        return sum(1 for e in self.envs if e.state.holds_slot and e.account_id == account_id and e.unreserved)

    def used_mb(self) -> int:
        return sum(e.memory_mb for e in self.envs)


@dataclass(frozen=True)
class Demand:
    """One invocation looking for an environment."""

    pool: str
    account_id: str
    function_name: str
    memory_mb: int
    reserved_concurrency: int | None
    account_limit: int
    memory_budget_mb: int
    max_envs: int
    reserved_total: int = 0  # the sum of the account's reservations


class Decision(StrEnum):
    WARM = "warm"  # reuse an idle environment of the pool
    FROZEN = "frozen"  # thaw a paused environment of the pool
    COLD = "cold"  # start a new environment (after evicting ``evict``)
    THROTTLE = "throttle"


@dataclass(frozen=True)
class Placement:
    decision: Decision
    env_id: str | None = None
    reason: str | None = None
    evict: tuple[str, ...] = ()


def _most_recent(envs: Iterable[EnvView]) -> EnvView | None:
    # Most recently used first: the tail of the pool stays idle longer and ages out, so a function
    # whose traffic drops scales down instead of keeping every environment lukewarm.
    return max(envs, key=lambda e: (e.last_used, e.env_id), default=None)


def choose(snapshot: Snapshot, demand: Demand, now: float) -> Placement:
    """Return where an invocation of ``demand.pool`` runs.

    Order: the concurrency limits (a function with reserved concurrency gets up to its reservation; the
    others share the unreserved pool, the account limit minus the sum of reservations), an
    idle warm environment of the pool, a frozen one, and finally a cold start, evicting idle environments
    of any pool, least recently used first, when the memory budget or the environment cap is reached.
    """
    if demand.reserved_concurrency is not None:
        if snapshot.in_flight(demand.account_id, demand.function_name) >= demand.reserved_concurrency:
            return Placement(Decision.THROTTLE, reason=RESERVED_LIMIT)
    elif snapshot.in_flight_unreserved(demand.account_id) >= demand.account_limit - demand.reserved_total:
        return Placement(Decision.THROTTLE, reason=ACCOUNT_LIMIT)
    if snapshot.in_flight(demand.account_id) >= demand.account_limit:
        return Placement(Decision.THROTTLE, reason=ACCOUNT_LIMIT)
    mine = [e for e in snapshot.envs if e.pool == demand.pool]
    warm = _most_recent(e for e in mine if e.state is ContainerState.WARM)
    if warm is not None:
        return Placement(Decision.WARM, env_id=warm.env_id)
    frozen = _most_recent(e for e in mine if e.state is ContainerState.FROZEN)
    if frozen is not None:
        return Placement(Decision.FROZEN, env_id=frozen.env_id)
    victims = evict(snapshot, demand.memory_mb, demand.memory_budget_mb, demand.max_envs)
    if victims is None:
        return Placement(Decision.THROTTLE, reason=ACCOUNT_LIMIT)
    return Placement(Decision.COLD, evict=tuple(v.env_id for v in victims))


def evict(snapshot: Snapshot, need_mb: int, budget_mb: int, max_envs: int) -> list[EnvView] | None:
    """Return the idle environments to remove so ``need_mb`` more fits, least recently used first.

    Only as many as needed, never a busy or starting one; ``None`` when even evicting every idle
    environment would not make room.
    """
    used = snapshot.used_mb()
    count = len(snapshot.envs)
    victims: list[EnvView] = []
    idle = sorted((e for e in snapshot.envs if e.state.idle), key=lambda e: (e.last_used, e.env_id))
    for candidate in idle:
        if used + need_mb <= budget_mb and count + 1 <= max_envs:
            break
        victims.append(candidate)
        used -= candidate.memory_mb
        count -= 1
    if used + need_mb > budget_mb or count + 1 > max_envs:
        return None
    return victims


@dataclass(frozen=True)
class IdlePlan:
    freeze: tuple[str, ...] = ()  # WARM too long: docker pause
    reap: tuple[str, ...] = ()  # idle past the idle timeout: remove
    retire: tuple[str, ...] = ()  # idle environments of a revision that is no longer current
    expired: tuple[str, ...] = ()  # STARTING/BUSY past their lease: the API process holding them died


def plan_idle(snapshot: Snapshot, now: float, freeze_after_s: float, idle_timeout_s: float) -> IdlePlan:
    """Return what the reaper should do with each environment of ``snapshot`` at ``now``."""
    freeze: list[str] = []
    reap: list[str] = []
    retire: list[str] = []
    expired: list[str] = []
    for e in snapshot.envs:
        if e.state.holds_slot:
            if e.lease_until and e.lease_until < now:
                expired.append(e.env_id)
            continue
        if not e.state.idle:
            continue
        current = snapshot.current_revisions.get((e.account_id, e.function_name, e.version))
        if current is not None and current != e.revision_id:
            retire.append(e.env_id)
        elif e.provisioned:
            continue  # initialized ahead and kept ready (lamina.scheduler.provisioned removes surplus)
        elif now - e.last_used >= idle_timeout_s:
            reap.append(e.env_id)
        elif e.state is ContainerState.WARM and now - e.last_used >= freeze_after_s:
            freeze.append(e.env_id)
    return IdlePlan(tuple(freeze), tuple(reap), tuple(retire), tuple(expired))
