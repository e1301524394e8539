"""Every Redis key lamina's scheduler uses is built here (one key family per state, as RQ does).

The Lua scripts in ``pool.py`` receive them: ``LUA_KEYS`` is Lua source generated from the functions
below (each called with placeholders), so a key format is written once, here, and the scripts cannot
drift from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PREFIX = "lamina"


def function_specs(account_id: str, function_name: str) -> str:
    """Hash: qualifier -> JSON of the resolved runnable spec, cached so warm invokes skip PostgreSQL."""
    return f"{PREFIX}:specs:{account_id}:{function_name}"


def spec_generation(account_id: str, function_name: str) -> str:
    """Counter bumped by every invalidation, so a fill that raced with one is dropped."""
    return f"{PREFIX}:specgen:{account_id}:{function_name}"


def current_revisions(account_id: str, function_name: str) -> str:
    """Hash: version -> the revision id environments of that version must run; others drain."""
    return f"{PREFIX}:revisions:{account_id}:{function_name}"


def pool_id(account_id: str, function_name: str, version: str, revision_id: str, tenant_id: str = "") -> str:
    """Environments are interchangeable only within one pool: same function, version and revision (and,
    for a PER_TENANT function, tenant: the acquire script appends it the same way)."""
    pool = f"{account_id}:{function_name}:{version}:{revision_id}"
    return f"{pool}:tenant:{tenant_id}" if tenant_id else pool


def env(env_id: str) -> str:
    """Hash: one environment (state, pool, address, container id, last_used, ...)."""
    return f"{PREFIX}:env:{env_id}"


def all_envs() -> str:
    """Set of every environment id the scheduler knows, in any state."""
    return f"{PREFIX}:envs"


def idle_pool(pool: str) -> str:
    """Sorted set: WARM environments of one pool, scored by last_used."""
    return f"{PREFIX}:idle:{pool}"


def frozen_pool(pool: str) -> str:
    """Sorted set: FROZEN environments of one pool, scored by last_used."""
    return f"{PREFIX}:frozen:{pool}"


def warm_index() -> str:
    """Sorted set: every WARM environment, scored by last_used (freezing, reaping, eviction)."""
    return f"{PREFIX}:state:warm"


def frozen_index() -> str:
    """Sorted set: every FROZEN environment, scored by last_used (reaping, eviction)."""
    return f"{PREFIX}:state:frozen"


def leases() -> str:
    """Sorted set: STARTING and BUSY environments, scored by the time their holder must be done."""
    return f"{PREFIX}:state:leased"


def inflight_account(account_id: str) -> str:
    """Sorted set: environments holding a concurrency slot in the account (score: lease deadline)."""
    return f"{PREFIX}:inflight:{account_id}"


def inflight_function(account_id: str, function_name: str) -> str:
    """Sorted set: environments holding a concurrency slot of one function (score: lease deadline)."""
    return f"{PREFIX}:inflight:{account_id}:{function_name}"


def inflight_unreserved(account_id: str) -> str:
    """Sorted set: the in-flight environments of functions without reserved concurrency (Lambda's
    unreserved pool: account limit minus the sum of reservations)."""
    return f"{PREFIX}:inflight-unreserved:{account_id}"


def reserved_total(account_id: str) -> str:
    """String: the sum of the account's reserved concurrency (":quota" appended when the account has its own
    concurrency quota), cached from PostgreSQL like the specs."""
    return f"{PREFIX}:reserved:{account_id}"


def reserved_generation(account_id: str) -> str:
    """Counter bumped by every change of a reservation, so a fill that raced with one is dropped."""
    return f"{PREFIX}:reservedgen:{account_id}"


def memory_used() -> str:
    """Integer: the sum of the memory limits (MB) of every environment the scheduler knows."""
    return f"{PREFIX}:memory"


def _on(node: str) -> str:
    """The suffix of a key family kept per Docker host (a fleet's node; none on one machine)."""
    return f":node:{node}" if node else ""


def free_sandboxes(node: str = "") -> str:
    """List: pre-started network sandboxes no environment uses yet, as "<container id> <ip>" (per host)."""
    return f"{PREFIX}:sandboxes:free{_on(node)}"


def sandboxes_creating(node: str = "") -> str:
    """Sorted set: claims to create a sandbox, scored by when the claim lapses (its creator died)."""
    return f"{PREFIX}:sandboxes:creating{_on(node)}"


def free_cells(family: str) -> str:
    """List: stem cells of a runtime family no function has claimed yet, as "<cell id> <container id> <ip>"."""
    return f"{PREFIX}:cells:free:{family}"


def cells_creating(family: str) -> str:
    """Sorted set: claims to create a stem cell of ``family``, scored by when the claim lapses."""
    return f"{PREFIX}:cells:creating:{family}"


def cell_demand(family: str) -> str:
    """Sorted set: recent cold starts of ``family``'s functions (member and score: their time)."""
    return f"{PREFIX}:cells:demand:{family}"


def cell_families() -> str:
    """Set: the runtime families that had cold starts (whose cell pools the reaper keeps)."""
    return f"{PREFIX}:cells:families"


def provisioned_envs(account_id: str, function_name: str, qualifier: str) -> str:
    """Set: the environments provisioned for one configuration (a version or an alias)."""
    return f"{PREFIX}:provisioned:{account_id}:{function_name}:{qualifier}"


def provisioned_failure(account_id: str, function_name: str, qualifier: str) -> str:
    """String: why provisioning that configuration last failed (its StatusReason), while it does."""
    return f"{PREFIX}:provisioned:failed:{account_id}:{function_name}:{qualifier}"


def provisioned_lock(account_id: str, function_name: str, qualifier: str) -> str:
    """String with a TTL: one process provisions a configuration at a time."""
    return f"{PREFIX}:provisioned:lock:{account_id}:{function_name}:{qualifier}"


def provisioned_counts(account_id: str, function_name: str) -> str:
    """Hash: "provisioned" / "spillover" -> invocations of the function's provisioned qualifiers that ran on
    a provisioned environment, or spilled over to an on-demand one."""
    return f"{PREFIX}:provisioned:counts:{account_id}:{function_name}"


def init_boosts(node: str = "") -> str:
    """Sorted set: containers running with their init boost, scored by when the boost must end (per host)."""
    return f"{PREFIX}:boosts{_on(node)}"


def init_boost_shares(node: str = "") -> str:
    """Hash: boosted container id -> "<OCI runtime> <memory MB>", the share it gets when the boost ends."""
    return f"{PREFIX}:boosts:shares{_on(node)}"


def cell_family_on(family: str, node: str = "") -> str:
    """The name a runtime family's stem-cell keys carry: cells live on one host, so per node in a fleet."""
    return f"{family}@{node}" if node else family


def nodes() -> str:
    """Hash: node id -> JSON of its last heartbeat (lamina.scheduler.fleet.NodeRecord)."""
    return f"{PREFIX}:nodes"


def node_code(node: str) -> str:
    """Set: the code keys a node has extracted on its host (placement prefers a node that needs no fetch)."""
    return f"{PREFIX}:nodes:code:{node}"


def nodes_draining() -> str:
    """Set: the nodes that take no new environment (`lamina node drain`)."""
    return f"{PREFIX}:nodes:draining"


def nodes_lost() -> str:
    """Hash: node id -> JSON {"at", "envs"} of a node taken out (its heartbeat stopped), kept a while so every
    API process aborts the calls it had in flight there."""
    return f"{PREFIX}:nodes:lost"


def _lua_function(name: str, build: Callable[..., str], arity: int) -> str:
    """``local function name(a0, ...)`` returning what ``build`` returns, with its arguments spliced in."""
    text = build(*(f"\0{i}\0" for i in range(arity)))
    parts = re.split(r"\0(\d)\0", text)
    pieces = [f"a{p}" if i % 2 else _lua_string(p) for i, p in enumerate(parts) if i % 2 or p]
    params = ", ".join(f"a{i}" for i in range(arity))
    return f"local function {name}({params}) return {' .. '.join(pieces)} end"


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# What the scripts call a key (Lua name -> builder and its number of arguments, or a constant key).
_LUA_FUNCTIONS: tuple[tuple[str, Callable[..., str], int], ...] = (
    ("env_key", env, 1),
    ("idle_key", idle_pool, 1),
    ("frozen_key", frozen_pool, 1),
    ("specs_key", function_specs, 2),
    ("revisions_key", current_revisions, 2),
    ("reserved_key", reserved_total, 1),
    ("inflight_acct", inflight_account, 1),
    ("inflight_fn", inflight_function, 2),
    ("inflight_unres", inflight_unreserved, 1),
)


def _lua_constants(node: str) -> tuple[tuple[str, str], ...]:
    return (
        ("WARM", warm_index()),
        ("FROZEN", frozen_index()),
        ("LEASED", leases()),
        ("ENVS", all_envs()),
        ("MEMORY", memory_used()),
        ("SANDBOXES", free_sandboxes(node)),
        ("SANDBOXES_CREATING", sandboxes_creating(node)),
        ("BOOSTS", init_boosts(node)),
        ("BOOST_SHARES", init_boost_shares(node)),
    )


def lua_keys(node: str = "") -> str:
    """The Lua prelude naming every key; ``node``: the host whose sandboxes and boosts the scripts use."""
    return "\n".join(
        [_lua_function(name, build, arity) for name, build, arity in _LUA_FUNCTIONS]
        + [f"local {name} = {_lua_string(key)}" for name, key in _lua_constants(node)]
    ) + "\n"


LUA_KEYS = lua_keys()
