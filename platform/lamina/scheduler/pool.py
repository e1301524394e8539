"""The shared warm pool: atomic Lua scripts over the Redis keys of ``keys.py``.

Every transition of ``states.ContainerState`` is one script, so any number of API processes (and the
reaper) can act on the same environments without locks:

* ``acquire``  resolve the cached spec of function+qualifier (weighted alias pick included), check the
               concurrency limits (the function's reservation, or else the account's unreserved pool:
               the account limit minus the cached sum of reservations), then take an idle WARM
               environment of the exact pool, else a FROZEN one (the caller thaws it), else reserve a
               STARTING slot for a cold start, evicting least recently used idle environments if the
               memory budget or environment cap needs it. One round trip; a cache miss comes back as
               ``Miss`` (or ``ReservationsMiss``) and the caller fills the cache.
* ``started``  record the address and container of a cold-started environment.
* ``release``  BUSY -> WARM with last_used = now (or discard it when its revision is no longer current).
* ``discard``  drop an environment and its slot in any state; returns its container id for removal.
* ``begin_freeze``/``end_freeze``/``reap_if``  the reaper's compare-and-set steps.

``placement.py`` holds the same policy as pure Python; the tests run both on the same snapshots.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from lamina.errors import InvalidParameterValueException, TooManyRequestsException
from lamina.scheduler import admission, keys
from lamina.scheduler.admission import Admission
from lamina.scheduler.placement import Decision, EnvView, Snapshot
from lamina.scheduler.states import ContainerState

# Every key the scripts touch comes from keys.py (keys.LUA_KEYS: env_key(), idle_key(), WARM, ...).
_PRELUDE = keys.LUA_KEYS + """
-- Remove an environment from every index and free its slot and memory; return the containers to
-- remove, in order: its own, then its network sandbox ('' where there is none).
local function drop(id)
  local ek = env_key(id)
  local f = redis.call('HMGET', ek, 'pool', 'container', 'memory', 'account', 'function', 'sandbox')
  if not f[1] then
    redis.call('SREM', ENVS, id)
    return false
  end
  redis.call('ZREM', idle_key(f[1]), id)
  redis.call('ZREM', frozen_key(f[1]), id)
  redis.call('ZREM', WARM, id)
  redis.call('ZREM', FROZEN, id)
  redis.call('ZREM', LEASED, id)
  redis.call('ZREM', inflight_acct(f[4]), id)
  redis.call('ZREM', inflight_fn(f[4], f[5]), id)
  redis.call('ZREM', inflight_unres(f[4]), id)
  if redis.call('SREM', ENVS, id) == 1 then
    redis.call('DECRBY', MEMORY, tonumber(f[3]) or 0)
  end
  redis.call('DEL', ek)
  return {f[2] or '', f[6] or ''}
end
"""

# Only an environment that still exists gets the mark (a discarded one must not come back as a stray hash).
_MARK_EXTENSIONS = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'ext', '1') end"

# Lambda's answers to an invoke without a tenant id (PER_TENANT function) or with one (any other function).
TENANT_REQUIRED = ("The invoked function is enabled with tenancy configuration. Add a valid tenant ID in your "
                   "request and try again.")
TENANT_FORBIDDEN = ("The invoked function is not enabled with tenancy configuration. Remove the tenant ID from "
                    "your request and try again.")

_ACQUIRE = _PRELUDE + admission.LUA_FRAGMENT + """
local acct, fn, qual = ARGV[1], ARGV[2], ARGV[3]
local rand, now, new_id = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local account_limit, budget, max_envs = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local margin, fresh = tonumber(ARGV[10]), ARGV[11] == '1'
-- The request's authentication checks first (ARGV[12..17]): a denied request takes nothing.
local denied = admit(12, now)
if denied then return {'denied', denied} end
-- The invoke's tenant id (ARGV[18], '' for none): a PER_TENANT function's environments serve one tenant.
local tenant = ARGV[18] or ''
local specs = specs_key(acct, fn)
-- The sum of the account's reservations, cached like the specs (the control plane deletes it on change).
-- "sum" or "sum:quota" when the account has its own concurrency quota (then it replaces ARGV[7]).
local reserved_sum = redis.call('GET', reserved_key(acct))
if not reserved_sum then return {'miss_reserved'} end
local quota
reserved_sum, quota = string.match(reserved_sum, '^(%d+):?(%d*)$')
if quota ~= '' then account_limit = tonumber(quota) end

local raw = redis.call('HGET', specs, qual)
if not raw then return {'miss', qual} end
local spec = cjson.decode(raw)
-- Weighted alias: Lambda allows one additional version; pick it with its weight.
local routing = spec['routing']
if type(routing) == 'table' then
  local acc = 0
  for v, w in pairs(routing) do
    acc = acc + (tonumber(w) or 0)
    if rand < acc then
      local other = redis.call('HGET', specs, tostring(v))
      if not other then return {'miss', tostring(v)} end
      raw = other
      spec = cjson.decode(other)
      break
    end
  end
end

if spec['tenant_isolation'] == true then
  if tenant == '' then return {'tenant', raw, 'required'} end
elseif tenant ~= '' then
  return {'tenant', raw, 'forbidden'}
end

local reserved = spec['reserved_concurrency']
if type(reserved) ~= 'number' then reserved = nil end
local ifn, iacct, iunres = inflight_fn(acct, fn), inflight_acct(acct), inflight_unres(acct)
-- Lambda: a function with a reservation may always use it; the others share what is left unreserved.
if reserved then
  if redis.call('ZCARD', ifn) >= reserved then
    return {'throttle', raw, 'ReservedFunctionConcurrentInvocationLimitExceeded'}
  end
elseif redis.call('ZCARD', iunres) >= account_limit - tonumber(reserved_sum) then
  return {'throttle', raw, 'ConcurrentInvocationLimitExceeded'}
end
-- Only reached by a reserved function while reservations are being changed (their sum is stale).
if redis.call('ZCARD', iacct) >= account_limit then
  return {'throttle', raw, 'ConcurrentInvocationLimitExceeded'}
end

local version, revision = tostring(spec['version']), tostring(spec['revision_id'])
local memory = tonumber(spec['memory_size']) or 128
local lease = now + (tonumber(spec['timeout']) or 3) + margin
local pool = acct .. ':' .. fn .. ':' .. version .. ':' .. revision
if tenant ~= '' then pool = pool .. ':tenant:' .. tenant end

local function hold(id)
  redis.call('ZADD', LEASED, lease, id)
  redis.call('ZADD', ifn, lease, id)
  redis.call('ZADD', iacct, lease, id)
  if not reserved then redis.call('ZADD', iunres, lease, id) end
end

local function take(id)
  redis.call('HSET', env_key(id), 'state', 'busy', 'lease_until', lease, 'unreserved', reserved and 0 or 1)
  hold(id)
  local f = redis.call('HMGET', env_key(id), 'address', 'container', 'sandbox')
  return {f[1] or '', f[2] or '', f[3] or ''}
end

-- Most recently used first, so the least recently used age out and the pool scales down.
-- ``fresh`` (a re-run after an idle environment's runtime died) skips them: a new environment, as Lambda re-inits.
for _, kind in ipairs(fresh and {} or {'warm', 'frozen'}) do
  local zkey = kind == 'warm' and idle_key(pool) or frozen_key(pool)
  local ids = redis.call('ZREVRANGE', zkey, 0, 0)
  if #ids > 0 then
    local id = ids[1]
    redis.call('ZREM', zkey, id)
    redis.call('ZREM', kind == 'warm' and WARM or FROZEN, id)
    local f = take(id)
    return {kind, raw, id, f[1], f[2], f[3]}
  end
end

-- Cold start: make room first, least recently used idle environments of any pool.
local used = tonumber(redis.call('GET', MEMORY) or '0')
local count = redis.call('SCARD', ENVS)
local victims = {}
if used + memory > budget or count + 1 > max_envs then
  local w = redis.call('ZRANGE', WARM, 0, -1, 'WITHSCORES')
  local f = redis.call('ZRANGE', FROZEN, 0, -1, 'WITHSCORES')
  local i, j = 1, 1
  while used + memory > budget or count + 1 > max_envs do
    local pick
    local wi, fj = w[i], f[j]
    if wi and fj then
      local ws, fs = tonumber(w[i + 1]), tonumber(f[j + 1])
      if ws < fs or (ws == fs and wi < fj) then pick = wi; i = i + 2 else pick = fj; j = j + 2 end
    elseif wi then pick = wi; i = i + 2
    elseif fj then pick = fj; j = j + 2
    else break end
    used = used - (tonumber(redis.call('HGET', env_key(pick), 'memory')) or 0)
    count = count - 1
    victims[#victims + 1] = pick
  end
  if used + memory > budget or count + 1 > max_envs then
    return {'throttle', raw, 'ConcurrentInvocationLimitExceeded'}
  end
end
-- A pre-started network sandbox ("<container id> <ip>") spares the cold start Docker's network set-up.
-- Not for a function with a VpcConfig: it runs without a network, or on networks of its own.
local sandbox, address = '', ''
local entry = nil
if type(spec['vpc_config']) ~= 'table' then entry = redis.call('LPOP', SANDBOXES) end
if entry then
  local sp = string.find(entry, ' ', 1, true)
  sandbox, address = string.sub(entry, 1, sp - 1), string.sub(entry, sp + 1)
end
local reply = {'cold', raw, new_id, address, '', sandbox}
for _, v in ipairs(victims) do
  local c = drop(v)
  if c then
    for _, cid in ipairs(c) do if cid ~= '' then reply[#reply + 1] = cid end end
  end
end
redis.call('HSET', env_key(new_id), 'state', 'starting', 'pool', pool, 'account', acct, 'function', fn,
  'version', version, 'revision', revision, 'memory', memory, 'created', now, 'last_used', now,
  'lease_until', lease, 'sandbox', sandbox, 'address', address, 'unreserved', reserved and 0 or 1)
redis.call('SADD', ENVS, new_id)
redis.call('INCRBY', MEMORY, memory)
hold(new_id)
return reply
"""

_STARTED = _PRELUDE + """
local ek = env_key(ARGV[1])
if redis.call('HGET', ek, 'state') ~= 'starting' then return 0 end
redis.call('HSET', ek, 'state', 'busy', 'address', ARGV[2], 'container', ARGV[3], 'node', ARGV[4] or '')
return 1
"""

_RELEASE = _PRELUDE + """
local id, now = ARGV[1], tonumber(ARGV[2])
local ek = env_key(id)
local f = redis.call('HMGET', ek, 'state', 'pool', 'account', 'function', 'version', 'revision')
if f[1] ~= 'busy' then return {'gone'} end
-- A new code or configuration revision: this environment drains instead of going back to the pool.
local current = redis.call('HGET', revisions_key(f[3], f[4]), f[5])
if current and current ~= f[6] then
  local c = drop(id) or {'', ''}
  return {'retired', c[1], c[2]}
end
redis.call('HSET', ek, 'state', 'warm', 'last_used', now, 'lease_until', 0)
redis.call('ZADD', idle_key(f[2]), now, id)
redis.call('ZADD', WARM, now, id)
redis.call('ZREM', LEASED, id)
redis.call('ZREM', inflight_acct(f[3]), id)
redis.call('ZREM', inflight_fn(f[3], f[4]), id)
redis.call('ZREM', inflight_unres(f[3]), id)
return {'ok'}
"""

_DISCARD = _PRELUDE + """
return drop(ARGV[1])
"""

# Network sandboxes: KEYS-free like the rest; entries are "<container id> <ip>".
_SANDBOX_RESERVE = _PRELUDE + """
local now, target, token, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', SANDBOXES_CREATING, '-inf', now)
if redis.call('LLEN', SANDBOXES) + redis.call('ZCARD', SANDBOXES_CREATING) >= target then return 0 end
redis.call('ZADD', SANDBOXES_CREATING, now + ttl, token)
return 1
"""

_SANDBOX_ADD = _PRELUDE + """
redis.call('ZREM', SANDBOXES_CREATING, ARGV[1])
if ARGV[2] ~= '' then redis.call('RPUSH', SANDBOXES, ARGV[2]) end
return 1
"""

_SANDBOX_TAKE_ALL = _PRELUDE + """
local all = redis.call('LRANGE', SANDBOXES, 0, -1)
redis.call('DEL', SANDBOXES)
return all
"""

# KEYS: free cells, cells being created. ARGV: now, target, token, ttl.
_CELL_RESERVE = """
local now, target, token, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= target then return 0 end
redis.call('ZADD', KEYS[2], now + ttl, token)
return 1
"""

_CELL_ADD = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[1], ARGV[2]) end
return 1
"""

# A cold start takes a free cell of its family and records the cell's container on its environment in one
# step (the sweep then finds it in one of the two); a network sandbox the environment took is given back.
# KEYS: free cells. ARGV: env id.
_CELL_TAKE = _PRELUDE + """
local ek = env_key(ARGV[1])
if redis.call('HGET', ek, 'state') ~= 'starting' then return false end
local entry = redis.call('LPOP', KEYS[1])
if not entry then return false end
local cell, rest = string.match(entry, '^(%S+) (.*)$')
local cid, ip = string.match(rest, '^(%S+) ?(.*)$')
local f = redis.call('HMGET', ek, 'sandbox', 'address')
if f[1] and f[1] ~= '' then redis.call('LPUSH', SANDBOXES, f[1] .. ' ' .. (f[2] or '')) end
redis.call('HSET', ek, 'container', cid, 'address', ip, 'sandbox', '', 'cell', cell)
return entry
"""

# A node's cold start that came without a sandbox (the API placed it) takes one of its host's own.
_SANDBOX_TAKE = _PRELUDE + """
local ek = env_key(ARGV[1])
if redis.call('HGET', ek, 'state') ~= 'starting' then return false end
local entry = redis.call('LPOP', SANDBOXES)
if not entry then return false end
local sp = string.find(entry, ' ', 1, true)
redis.call('HSET', ek, 'sandbox', string.sub(entry, 1, sp - 1), 'address', string.sub(entry, sp + 1))
return entry
"""

_BOOST_END = _PRELUDE + """
if redis.call('ZREM', BOOSTS, ARGV[1]) == 0 then return false end
local share = redis.call('HGET', BOOST_SHARES, ARGV[1]) or ''
redis.call('HDEL', BOOST_SHARES, ARGV[1])
return share
"""

_BEGIN_FREEZE = _PRELUDE + """
local id, now, after = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ek = env_key(id)
local f = redis.call('HMGET', ek, 'state', 'last_used', 'pool', 'container')
if f[1] ~= 'warm' or now - tonumber(f[2]) < after or not f[4] then return false end
redis.call('ZREM', idle_key(f[3]), id)
redis.call('ZREM', WARM, id)
redis.call('HSET', ek, 'state', 'freezing')
return f[4]
"""

_END_FREEZE = _PRELUDE + """
local id = ARGV[1]
local ek = env_key(id)
local f = redis.call('HMGET', ek, 'state', 'last_used', 'pool')
if f[1] ~= 'freezing' then return 0 end
redis.call('HSET', ek, 'state', 'frozen')
redis.call('ZADD', frozen_key(f[3]), f[2], id)
redis.call('ZADD', FROZEN, f[2], id)
return 1
"""

# Compare-and-set removal for the reaper: only if the reason still holds at the time of the script.
_REAP_IF = _PRELUDE + """
local id, now, mode, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local ek = env_key(id)
local f = redis.call('HMGET', ek, 'state', 'last_used', 'lease_until', 'account', 'function', 'version', 'revision')
local st = f[1]
if not st then return drop(id) end
local idle = (st == 'warm' or st == 'frozen')
local ok = false
if mode == 'idle' then
  ok = idle and now - tonumber(f[2]) >= limit
elseif mode == 'retire' then
  local current = redis.call('HGET', revisions_key(f[4], f[5]), f[6])
  ok = idle and current and current ~= f[7]
elseif mode == 'expired' then
  local lease = tonumber(f[3]) or 0
  ok = (st == 'starting' or st == 'busy') and lease > 0 and lease < now
elseif mode == 'any' then
  ok = true
end
if not ok then return false end
return drop(id)
"""

LEASE_MARGIN_S = 40.0  # init timeout (10 s) + container start + slack, added to the function timeout


@dataclass(frozen=True)
class Miss:
    """The spec of ``qualifier`` is not cached; fill it and acquire again."""

    qualifier: str


@dataclass(frozen=True)
class ReservationsMiss:
    """The sum of the account's reserved concurrency is not cached; fill it and acquire again."""


@dataclass(frozen=True)
class Lease:
    """An environment held for one invocation (``decision`` says how it was found)."""

    decision: Decision
    env_id: str
    spec: dict[str, Any]
    address: str = ""
    container_id: str = ""
    sandbox_id: str = ""  # cold start: the network sandbox to join ("" = use the bridge network)
    evicted: tuple[str, ...] = ()  # containers of environments evicted to make room; remove them


@dataclass(frozen=True)
class Released:
    outcome: str  # "ok" (back in the pool), "gone" (already discarded), "retired" (stale revision)
    container_ids: tuple[str, ...] = ()  # retired: remove these, in order


class DirectScript:
    """A registered Lua script called straight over this thread's own Redis connection.

    redis-py's command layer (connection-pool bookkeeping, retry wrapper, observability hooks, option
    parsing) costs about 60 µs a call on this machine, more than the round trip itself, and the warm
    invoke path makes two calls. On NOSCRIPT (a restarted or flushed Redis) or a broken connection this
    falls back to redis-py's own ``Script``, which loads the script and retries as every other call does.
    """

    def __init__(self, script: Any, conns: ThreadConnections) -> None:
        self.script = script
        self.sha = script.sha
        self.conns = conns

    def __call__(self, args: Sequence[Any]) -> Any:
        conn = self.conns.get()
        try:
            conn.send_command("EVALSHA", self.sha, 0, *args)
            return conn.read_response()
        except redis.exceptions.NoScriptError:
            return self.script(args=args)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            conn.disconnect()  # the next call reconnects
            return self.script(args=args)


class ThreadConnections(threading.local):
    """One Redis connection per thread (and process: a forked child makes its own) for one client, made
    outside its connection pool's count: it closes when its thread ends. ``of`` shares one per client."""

    _by_client: weakref.WeakKeyDictionary[Any, ThreadConnections] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, pool: redis.ConnectionPool) -> None:  # the pool, not the client: no cycle to the key
        self.pool = pool
        self.pid = 0
        self.conn: Any = None

    @classmethod
    def of(cls, client: redis.Redis) -> ThreadConnections:
        with cls._lock:
            conns = cls._by_client.get(client)
            if conns is None:
                conns = cls._by_client[client] = cls(client.connection_pool)
            return conns

    def get(self) -> Any:
        if self.conn is None or self.pid != os.getpid():
            self.conn = self.pool.connection_class(**self.pool.connection_kwargs)
            self.pid = os.getpid()
        return self.conn


def _ids(reply: Any) -> list[str]:
    """The container ids of a ``drop`` reply (environment first, then its sandbox), without blanks."""
    if not reply:
        return []
    return [c for c in (_s(x) for x in reply) if c]


def _s(value: Any) -> str:
    if value is None or value is False:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class Pool:
    """The warm pool shared by every process through Redis."""

    redis: redis.Redis
    account_limit: int = 1000
    memory_budget_mb: int = 16 * 1024
    max_envs: int = 1000  # one Linux bridge holds at most 1023 ports
    lease_margin_s: float = LEASE_MARGIN_S
    # The Docker host this process starts environments on, in a fleet ("" on one machine): its sandboxes,
    # stem cells and init boosts are its own, and its snapshot (the reaper's view) holds its environments.
    node: str = ""
    _scripts: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, src in (("acquire", _ACQUIRE), ("started", _STARTED), ("release", _RELEASE),
                          ("discard", _DISCARD), ("begin_freeze", _BEGIN_FREEZE),
                          ("end_freeze", _END_FREEZE), ("reap_if", _REAP_IF),
                          ("sandbox_reserve", _SANDBOX_RESERVE), ("sandbox_add", _SANDBOX_ADD),
                          ("sandbox_take_all", _SANDBOX_TAKE_ALL), ("sandbox_take", _SANDBOX_TAKE),
                          ("boost_end", _BOOST_END),
                          ("cell_reserve", _CELL_RESERVE), ("cell_add", _CELL_ADD), ("cell_take", _CELL_TAKE)):
            if self.node:
                src = src.replace(keys.LUA_KEYS, keys.lua_keys(self.node))
            self._scripts[name] = self.redis.register_script(src)
        # The two scripts of every warm invoke skip redis-py's command layer.
        conns = ThreadConnections.of(self.redis)
        for name in ("acquire", "release"):
            self._scripts[name] = DirectScript(self._scripts[name], conns)

    def acquire(
        self, account_id: str, function_name: str, qualifier: str, *, now: float, rand: float, new_env_id: str,
        fresh: bool = False, admit: Admission | None = None, tenant_id: str | None = None,
    ) -> Lease | Miss | ReservationsMiss:
        """Take an environment for one invocation, or say which spec is missing from the cache.

        ``fresh`` skips idle environments: the invocation gets a cold start. ``admit``: the request's
        authentication checks, run first in the same round trip.

        Raises TooManyRequestsException (with Lambda's Reason) when a concurrency limit is reached, and
        the error of ``admission.raise_denied`` when ``admit`` refuses the request. ``tenant_id``: the
        invoke's TenantId; a PER_TENANT function's environments each serve one tenant (InvalidParameterValue
        without one, or with one for a function that is not PER_TENANT).
        """
        reply = self._scripts["acquire"](
            [account_id, function_name, qualifier, repr(rand), repr(now), new_env_id,
             self.account_limit, self.memory_budget_mb, self.max_envs, self.lease_margin_s,
             "1" if fresh else "0", *(admit.args() if admit else admission.NO_ADMISSION), tenant_id or ""]
        )
        kind = _s(reply[0])
        if kind == "denied":
            admission.raise_denied(_s(reply[1]))
        if kind == "tenant":
            raise InvalidParameterValueException(TENANT_REQUIRED if _s(reply[2]) == "required" else TENANT_FORBIDDEN)
        if kind == "miss_reserved":
            return ReservationsMiss()
        if kind == "miss":
            return Miss(_s(reply[1]))
        if kind == "throttle":
            raise TooManyRequestsException("Rate Exceeded.", reason=_s(reply[2]))
        return Lease(
            decision=Decision(kind),
            env_id=_s(reply[2]),
            spec=json.loads(reply[1]),
            address=_s(reply[3]),
            container_id=_s(reply[4]),
            sandbox_id=_s(reply[5]),
            evicted=tuple(_s(c) for c in reply[6:] if c),
        )

    def started(self, env_id: str, address: str, container_id: str) -> bool:
        """STARTING -> BUSY with its address; False if the environment was discarded meanwhile."""
        return bool(self._scripts["started"](args=[env_id, address, container_id, self.node]))

    def release(self, env_id: str, now: float) -> Released:
        reply = self._scripts["release"]([env_id, repr(now)])
        return Released(_s(reply[0]), tuple(_ids(reply[1:])))

    def discard(self, env_id: str) -> list[str]:
        """Forget an environment in any state; return the containers to remove (none if it was unknown)."""
        return _ids(self._scripts["discard"](args=[env_id]))

    def begin_freeze(self, env_id: str, now: float, freeze_after_s: float) -> str | None:
        """WARM -> FREEZING if still idle long enough; return the container id to pause."""
        c = self._scripts["begin_freeze"](args=[env_id, repr(now), repr(freeze_after_s)])
        return _s(c) if c else None

    def end_freeze(self, env_id: str) -> bool:
        """FREEZING -> FROZEN once the container is paused."""
        return bool(self._scripts["end_freeze"](args=[env_id]))

    def reap_if(self, env_id: str, now: float, mode: str, limit_s: float = 0.0) -> list[str] | None:
        """Discard ``env_id`` if ``mode`` ('idle', 'retire', 'expired', 'any') still applies.

        Returns the containers to remove (empty when none was recorded), None when nothing was done.
        """
        reply = self._scripts["reap_if"](args=[env_id, repr(now), mode, repr(limit_s)])
        return None if reply is None or reply is False else _ids(reply)

    # -- network sandboxes (pre-started containers whose network namespace a cold start joins)

    def reserve_sandbox(self, now: float, target: int, token: str, ttl_s: float = 60.0) -> bool:
        """Claim the right to create one sandbox if free + being created < ``target``."""
        return bool(self._scripts["sandbox_reserve"](args=[repr(now), target, token, repr(ttl_s)]))

    def add_sandbox(self, token: str, container_id: str = "", ip: str = "") -> None:
        """Finish (or, without a container, abandon) the creation claimed with ``token``."""
        entry = f"{container_id} {ip}" if container_id else ""
        self._scripts["sandbox_add"](args=[token, entry])

    def free_sandboxes(self) -> list[tuple[str, str]]:
        entries = (_s(e).split(" ", 1) for e in self.redis.lrange(keys.free_sandboxes(self.node), 0, -1))
        return [(e[0], e[1] if len(e) > 1 else "") for e in entries]

    def take_sandbox(self, env_id: str) -> tuple[str, str] | None:
        """Give starting environment ``env_id`` one of this host's free sandboxes: (container id, ip)."""
        entry = self._scripts["sandbox_take"](args=[env_id])
        if not entry:
            return None
        cid, _, ip = _s(entry).partition(" ")
        return cid, ip

    def take_all_sandboxes(self) -> list[str]:
        """Empty the free list atomically; return the sandbox container ids (to remove)."""
        return [_s(e).split(" ", 1)[0] for e in self._scripts["sandbox_take_all"](args=[])]

    # -- stem cells (pre-started, function-less environments of a runtime family: lamina.scheduler.cells)

    def reserve_cell(self, family: str, now: float, target: int, token: str, ttl_s: float = 60.0) -> bool:
        """Claim the right to create one cell of ``family`` if free + being created < ``target``."""
        return bool(self._scripts["cell_reserve"](keys=self._cell_keys(family),
                                                  args=[repr(now), target, token, repr(ttl_s)]))

    def add_cell(self, family: str, token: str, cell_id: str = "", container_id: str = "", ip: str = "") -> None:
        """Finish (or, without a container, abandon) the creation claimed with ``token``."""
        entry = f"{cell_id} {container_id} {ip}" if container_id else ""
        self._scripts["cell_add"](keys=self._cell_keys(family), args=[token, entry])

    def take_cell(self, family: str, env_id: str) -> tuple[str, str, str] | None:
        """Give starting environment ``env_id`` a free cell of ``family``: (cell id, container id, ip)."""
        entry = self._scripts["cell_take"](keys=[keys.free_cells(self._fam(family))], args=[env_id])
        if not entry:
            return None
        cell, cid, ip = (_s(entry).split(" ") + ["", ""])[:3]
        return cell, cid, ip

    def free_cells(self, family: str | None = None) -> list[tuple[str, str, str]]:
        """Free cells (of ``family``, or of every family): (cell id, container id, ip)."""
        families = [family] if family else self.cell_families()
        out = []
        for fam in families:
            for e in self.redis.lrange(keys.free_cells(self._fam(fam)), 0, -1):
                cell, cid, ip = (_s(e).split(" ") + ["", ""])[:3]
                out.append((cell, cid, ip))
        return out

    def take_all_cells(self) -> list[str]:
        """Empty every family's free list; return the cells' container ids (to remove)."""
        taken = []
        for fam in self.cell_families():
            pipe = self.redis.pipeline(transaction=True)
            pipe.lrange(keys.free_cells(self._fam(fam)), 0, -1)
            pipe.delete(keys.free_cells(self._fam(fam)))
            entries, _ = pipe.execute()
            taken += [(_s(e).split(" ") + [""])[1] for e in entries]
        return [c for c in taken if c]

    def trim_cells(self, family: str, keep: int) -> list[str]:
        """Take the newest free cells of ``family`` beyond ``keep`` off its list; return their container ids."""
        key = keys.free_cells(self._fam(family))
        taken = []
        while self.redis.llen(key) > keep:
            entry = self.redis.rpop(key)
            if entry is None:
                break
            taken.append((_s(entry).split(" ") + [""])[1])
        return [c for c in taken if c]

    def record_cold_start(self, family: str, now: float, window_s: float) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(keys.cell_families(), self._fam(family))
        pipe.zadd(keys.cell_demand(self._fam(family)), {f"{now!r}:{os.getpid()}:{threading.get_ident()}": now})
        pipe.zremrangebyscore(keys.cell_demand(self._fam(family)), "-inf", repr(now - window_s))
        pipe.execute()

    def cold_starts_since(self, family: str, since: float) -> int:
        return int(self.redis.zcount(keys.cell_demand(self._fam(family)), repr(since), "+inf"))

    def cell_families(self) -> list[str]:
        """The runtime families whose cells this host keeps (the families its cold starts used)."""
        suffix = keys.cell_family_on("", self.node)
        names = (_s(f) for f in self.redis.smembers(keys.cell_families()))
        if not self.node:
            return sorted(f for f in names if "@" not in f)
        return sorted(f[: -len(suffix)] for f in names if f.endswith(suffix))

    def _fam(self, family: str) -> str:
        return keys.cell_family_on(family, self.node)

    def _cell_keys(self, family: str) -> list[str]:
        return [keys.free_cells(self._fam(family)), keys.cells_creating(self._fam(family))]

    # -- init boosts (kept here, not in one process, so a boost ends even if its API process dies)

    def boost(self, container_id: str, until: float, oci_runtime: str, memory_mb: int) -> None:
        """Record that ``container_id`` runs boosted until ``until``, then gets ``memory_mb``'s share."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.init_boost_shares(self.node), container_id, f"{oci_runtime} {memory_mb}")
        pipe.zadd(keys.init_boosts(self.node), {container_id: until})
        pipe.execute()

    def end_boost(self, container_id: str) -> tuple[str, int] | None:
        """Take ``container_id``'s boost (once: whoever comes first); (OCI runtime, memory MB) or None."""
        share = self._scripts["boost_end"](args=[container_id])
        if share is None or share is False:
            return None
        runtime, _, memory = _s(share).partition(" ")
        return runtime or "runc", int(memory or 128)

    def mark_extensions(self, env_id: str) -> None:
        """Record that ``env_id`` runs extensions: it is stopped (SIGTERM, their SHUTDOWN) before removal."""
        self.redis.eval(_MARK_EXTENSIONS, 1, keys.env(env_id))

    def is_boosted(self, container_id: str) -> bool:
        return self.redis.zscore(keys.init_boosts(self.node), container_id) is not None

    def boosts_due(self, now: float) -> list[str]:
        """Containers whose init boost should have ended by ``now``."""
        return [_s(c) for c in self.redis.zrangebyscore(keys.init_boosts(self.node), "-inf", repr(now))]

    def snapshot(self) -> Snapshot:
        """Read every environment (for the reaper and for tests; not used on the invoke path)."""
        ids = sorted(_s(i) for i in self.redis.smembers(keys.all_envs()))
        pipe = self.redis.pipeline(transaction=False)
        for env_id in ids:
            pipe.hgetall(keys.env(env_id))
        envs: list[EnvView] = []
        revision_keys: set[tuple[str, str]] = set()
        for env_id, raw in zip(ids, pipe.execute(), strict=True):
            view = _view(env_id, raw)
            # A node sees its own environments, and those still starting (not yet on any host).
            if view is not None and (not self.node or view.node in (self.node, "")):
                envs.append(view)
                revision_keys.add((view.account_id, view.function_name))
        current: dict[tuple[str, str, str], str] = {}
        for account_id, function_name in sorted(revision_keys):
            for version, rev in self.redis.hgetall(keys.current_revisions(account_id, function_name)).items():
                current[(account_id, function_name, _s(version))] = _s(rev)
        return Snapshot(tuple(envs), current)

    def env(self, env_id: str) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.redis.hgetall(keys.env(env_id)).items()}

    def env_ids(self) -> Sequence[str]:
        return sorted(_s(i) for i in self.redis.smembers(keys.all_envs()))


def _view(env_id: str, raw: dict[Any, Any]) -> EnvView | None:
    f = {_s(k): _s(v) for k, v in raw.items()}
    if not f.get("state"):
        return None
    return EnvView(
        env_id=env_id,
        pool=f.get("pool", ""),
        account_id=f.get("account", ""),
        function_name=f.get("function", ""),
        version=f.get("version", ""),
        revision_id=f.get("revision", ""),
        state=ContainerState(f["state"]),
        last_used=float(f.get("last_used") or 0),
        memory_mb=int(float(f.get("memory") or 0)),
        lease_until=float(f.get("lease_until") or 0),
        unreserved=f.get("unreserved") == "1",
        container_id=f.get("container", ""),
        sandbox_id=f.get("sandbox", ""),
        provisioned=f.get("provisioned") == "1",
        extensions=f.get("ext") == "1",
        node=f.get("node", ""),
    )
