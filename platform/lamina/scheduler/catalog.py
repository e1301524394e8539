"""The invoke path's cache of runnable function specs in Redis (filled from PostgreSQL on a miss).

Control-plane services call ``invalidate`` after every committed change to a function, its versions,
aliases or concurrency, so the next invoke re-reads the database. A fill records the generation it
started from and is dropped if an invalidation happened meanwhile, so a slow reader can never put a
pre-change spec back after the change was committed. Entries also expire after ``TTL_S`` as a safety net.

A spec is the plain dict of ``lamina.services.functions.resolve_for_invoke``; filling also records, per
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
