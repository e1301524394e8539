"""Bearer tokens minted from an access key: ``lmt1.<key-id>.<expiry>.<hmac>`` (for curl and the console).

The HMAC is keyed by the key's secret, so a token dies with its key and cannot be forged without the
secret; it carries its own expiry, so nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from lamina.services.iam.iam import Principal

PREFIX = "lmt1"
MAX_TTL_S = 7 * 24 * 3600


def _mac(secret: str, key_id: str, expiry: int) -> str:
    return hmac.new(secret.encode(), f"{PREFIX}.{key_id}.{expiry}".encode(), hashlib.sha256).hexdigest()


def mint(key_id: str, secret: str, ttl_s: int = 12 * 3600, now: float | None = None) -> str:
    """A token for ``key_id`` valid ``ttl_s`` seconds (at most a week)."""
    expiry = int((time.time() if now is None else now) + max(1, min(ttl_s, MAX_TTL_S)))
    return f"{PREFIX}.{key_id}.{expiry}.{_mac(secret, key_id, expiry)}"


def verify(deps: Any, token: str, lookup: Callable[[Any, str], tuple[Principal, str] | None],
           now: float | None = None) -> Principal | None:
    """The principal of a valid, unexpired token, else None."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    key_id, expiry = parts[1], int(parts[2])
    if expiry < (time.time() if now is None else now):
        return None
    found = lookup(deps, key_id)
    if found is None or found[0].role is not None:
        return None
    if not hmac.compare_digest(_mac(found[1], key_id, expiry), parts[3]):
        return None
    return found[0]
