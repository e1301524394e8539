"""The invoke path's cache of runnable function specs in Redis (filled from PostgreSQL on a miss).

Control-plane services call ``invalidate`` after every committed change to a function, its versions,
aliases or concurrency, so the next invoke re-reads the database.
"""

from __future__ import annotations

import redis

from lamina.scheduler import keys


def invalidate(r: redis.Redis, account_id: str, function_name: str) -> None:
    r.delete(keys.function_specs(account_id, function_name))
