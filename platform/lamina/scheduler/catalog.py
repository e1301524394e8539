"""The invoke path's cache of runnable function specs in Redis (filled from PostgreSQL on a miss).

Control-plane services call ``invalidate`` after every committed change to a function, its versions,
aliases or concurrency, so the next invoke re-reads the database. A fill records the generation it
started from and is dropped if an invalidation happened meanwhile, so a slow reader can never put a
pre-change spec back after the change was committed. Entries also expire after ``TTL_S`` as a safety net.

The sum of the account's reserved concurrency is cached the same way (``reservations_changed`` after a
change, ``fill_reservations`` on a miss): the invoke path needs it for the unreserved pool.

A spec is the plain dict of ``lamina.services.functions.functions.resolve_for_invoke``; filling also records, per
version, the revision environments must run (``keys.current_revisions``): older ones drain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from lamina.scheduler import keys

TTL_S = 300

_FILL = """
local specs, gen_key, revisions = KEYS[1], KEYS[2], KEYS[3]
local expected, qual, spec, version, revision, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local gen = redis.call('GET', gen_key) or '0'
if gen ~= expected then return 0 end
redis.call('HSET', specs, qual, spec)
redis.call('EXPIRE', specs, tonumber(ttl))
if version ~= '' and revision ~= '' then redis.call('HSET', revisions, version, revision) end
return 1
"""


def invalidate(r: redis.Redis, account_id: str, function_name: str) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.delete(keys.function_specs(account_id, function_name))
    pipe.incr(keys.spec_generation(account_id, function_name))
    pipe.execute()


def generation(r: redis.Redis, account_id: str, function_name: str) -> str:
    """Read before resolving a spec from the database; pass to ``fill``."""
    raw = r.get(keys.spec_generation(account_id, function_name))
    return raw.decode() if isinstance(raw, bytes) else (raw or "0")


def fill(
    r: redis.Redis, account_id: str, function_name: str, qualifier: str, spec: Mapping[str, Any], gen: str
) -> bool:
    """Cache ``spec`` for ``qualifier`` unless the function was invalidated since ``gen`` was read."""
    doc = json.dumps(dict(spec), separators=(",", ":"), sort_keys=True, default=str)
    result = r.eval(
        _FILL, 3,
        keys.function_specs(account_id, function_name),
        keys.spec_generation(account_id, function_name),
        keys.current_revisions(account_id, function_name),
        gen, qualifier, doc, str(spec.get("version") or ""), str(spec.get("revision_id") or ""), TTL_S,
    )
    return bool(result)


def get(r: redis.Redis, account_id: str, function_name: str, qualifier: str) -> dict[str, Any] | None:
    raw = r.hget(keys.function_specs(account_id, function_name), qualifier)
    return json.loads(raw) if raw else None


# -- the sum of the account's reserved concurrency (the unreserved pool is the account limit minus it)

_FILL_RESERVED = """
local total_key, gen_key = KEYS[1], KEYS[2]
if (redis.call('GET', gen_key) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', total_key, ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""


def reservations_changed(r: redis.Redis, account_id: str) -> None:
    """Forget the cached sum of reservations (call after committing a change to any of them)."""
    pipe = r.pipeline(transaction=True)
    pipe.delete(keys.reserved_total(account_id))
    pipe.incr(keys.reserved_generation(account_id))
    pipe.execute()


def reservations_generation(r: redis.Redis, account_id: str) -> str:
    """Read before summing the reservations in the database; pass to ``fill_reservations``."""
    raw = r.get(keys.reserved_generation(account_id))
    return raw.decode() if isinstance(raw, bytes) else (raw or "0")


def fill_reservations(r: redis.Redis, account_id: str, total: int, gen: str, limit: int | None = None) -> bool:
    """Cache the sum of reservations unless one changed since ``gen`` was read; with the account's own
    concurrency quota ``limit`` when it has one (``"total:limit"``; the pool's default applies otherwise)."""
    value = str(int(total)) if limit is None else f"{int(total)}:{int(limit)}"
    result = r.eval(
        _FILL_RESERVED, 2, keys.reserved_total(account_id), keys.reserved_generation(account_id),
        gen, value, TTL_S,
    )
    return bool(result)


# -- deletions: environments of a deleted function or version are retired like stale revisions

DELETED = "-"  # the "current revision" of a deleted version: no environment runs it

_DELETED = """
local specs, gen_key, revisions, version = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
redis.call('DEL', specs)
redis.call('INCR', gen_key)
if version ~= '' then
  redis.call('HSET', revisions, version, ARGV[2])
  return 1
end
for _, v in ipairs(redis.call('HKEYS', revisions)) do redis.call('HSET', revisions, v, ARGV[2]) end
-- A deleted function's tombstones outlive its environments (they are retired within a reaper round).
redis.call('EXPIRE', revisions, tonumber(ARGV[3]))
return 1
"""


def deleted(r: redis.Redis, account_id: str, function_name: str, version: str | None = None) -> None:
    """Invalidate like ``invalidate`` and mark ``version`` (None: every version) as deleted, so its idle
    environments are retired by the reaper and its busy ones are discarded when they finish."""
    r.eval(
        _DELETED, 3,
        keys.function_specs(account_id, function_name),
        keys.spec_generation(account_id, function_name),
        keys.current_revisions(account_id, function_name),
        version or "", DELETED, 86400,
    )
