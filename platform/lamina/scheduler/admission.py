"""Admission: the per-request checks of authentication that need Redis, as one Lua fragment.

* replay: a SigV4 signature first seen more than ``grace_s`` ago is refused. botocore signs only host,
  x-amz-date (1 s resolution) and the body, and a retry in the same second keeps the signature, so two
  identical calls in one second legitimately share it;
* revocation: keys are cached per process (``lamina.services.iam.iam``); a deleted key is marked revoked in
  Redis so every process refuses it at once;
* rate: a fixed one-second window per account; more than ``rate_limit`` requests answer 429.

Every API call pays these. For a synchronous invoke, the warm path's hottest route, the same fragment
runs inside the pool's ``acquire`` script (``pool.py``), so admission and placement share one round
trip; every other route runs it alone through ``check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from lamina.errors import InvalidSignatureException, TooManyRequestsException, UnrecognizedClientException

INVALID_TOKEN = "The security token included in the request is invalid."

# ARGV[base .. base+5]: replay key ('' = not SigV4), replay TTL, replay grace, revoked key ('' = no
# admission at all), rate key ('' = no limit), rate limit. ``now`` is the script's own variable.
# Returns from the script with {'denied', reason} when the request must not go on.
LUA_FRAGMENT = """
local function admit(base, now)
  local replay_key, revoked_key, rate_key = ARGV[base], ARGV[base + 3], ARGV[base + 4]
  if revoked_key == '' then return nil end
  if replay_key ~= '' then
    if not redis.call('SET', replay_key, tostring(now), 'NX', 'EX', tonumber(ARGV[base + 1])) then
      local first = tonumber(redis.call('GET', replay_key))
      if first and now - first > tonumber(ARGV[base + 2]) then return 'replay' end
    end
  end
  if redis.call('EXISTS', revoked_key) == 1 then return 'revoked' end
  if rate_key ~= '' then
    local n = redis.call('INCR', rate_key)
    if n == 1 then redis.call('EXPIRE', rate_key, 2) end
    if n > tonumber(ARGV[base + 5]) then return 'rate' end
  end
  return nil
end
"""

_CHECK = LUA_FRAGMENT + """
local reason = admit(1, tonumber(ARGV[7]))
if reason then return reason end
return ''
"""


@dataclass(frozen=True)
class Admission:
    """What to check for one authenticated request (built by ``lamina.api.auth``)."""

    revoked_key: str
    replay_key: str = ""  # the SigV4 signature's key; "" for bearer credentials
    replay_ttl_s: int = 601
    replay_grace_s: float = 2.0
    rate_key: str = ""  # this second's counter of the account; "" when unlimited
    rate_limit: int = 0

    def args(self) -> list[Any]:
        """The six ARGV values of ``LUA_FRAGMENT``'s ``admit``."""
        return [self.replay_key, self.replay_ttl_s, repr(self.replay_grace_s), self.revoked_key,
                self.rate_key, self.rate_limit]


NO_ADMISSION = ["", 0, "0", "", "", 0]  # ``admit`` answers nil at once (revoked key '')


def raise_denied(reason: str) -> None:
    """Raise the Lambda error of a denial reason returned by ``admit``."""
    if reason == "replay":
        raise InvalidSignatureException("Signature has already been used (replayed request).")
    if reason == "revoked":
        raise UnrecognizedClientException(INVALID_TOKEN)
    if reason == "rate":
        raise TooManyRequestsException("Rate exceeded", reason="CallerRateLimitExceeded", retry_after_s=1)
    raise ValueError(f"unknown admission denial {reason!r}")


class AdmissionChecker:
    """Runs ``Admission`` checks alone (one round trip), for every request that is not a sync invoke."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_CHECK)

    def check(self, admission: Admission | None, now: float) -> None:
        if admission is None:
            return
        reason = self._script(args=[*admission.args(), repr(now)])
        if reason:
            raise_denied(reason.decode() if isinstance(reason, bytes) else str(reason))
