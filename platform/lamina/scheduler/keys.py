"""Every Redis key lamina's scheduler uses is built here (one key family per state, as RQ does).

The Lua scripts in ``pool.py`` build the same keys from the same formats (they cannot call Python);
``tests/scheduler/test_pool.py`` checks that both agree.
"""

from __future__ import annotations

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


def pool_id(account_id: str, function_name: str, version: str, revision_id: str) -> str:
    """Environments are interchangeable only within one pool: same function, version and revision."""
    return f"{account_id}:{function_name}:{version}:{revision_id}"


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


def free_sandboxes() -> str:
    """List: pre-started network sandboxes no environment uses yet, as "<container id> <ip>"."""
    return f"{PREFIX}:sandboxes:free"


def sandboxes_creating() -> str:
    """Sorted set: claims to create a sandbox, scored by when the claim lapses (its creator died)."""
    return f"{PREFIX}:sandboxes:creating"
