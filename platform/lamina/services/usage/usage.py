"""Usage reports for callers: an account's own, or every account's for the platform's administrators."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from lamina.errors import AccessDeniedException
from lamina.services.common import Deps
from lamina.services.iam.iam import Principal
from lamina.services.usage import meter


def is_platform_admin(deps: Deps, principal: Principal) -> bool:
    return principal.admin and principal.role is None and principal.account_id == deps.settings.account_id


def prices(deps: Deps) -> meter.Prices:
    s = deps.settings
    return meter.Prices(s.price_per_gb_second, s.price_per_million_requests, s.price_per_provisioned_gb_second)


def report(deps: Deps, principal: Principal | None, args: Mapping[str, str]) -> dict[str, Any]:
    """``{"Usage": [rows], "Prices": {...}, "Start", "End", "Granularity"}`` for ``args`` (see meter.parse_query).

    Everyone sees their own account's; a platform administrator sees every account's, or one by AccountId.
    """
    if principal is None:
        raise AccessDeniedException("Usage needs credentials.")
    wanted = args.get("AccountId") or None
    if is_platform_admin(deps, principal):
        account: str | None = wanted
    elif wanted not in (None, principal.account_id):
        raise AccessDeniedException("Only the platform's administrators can read another account's usage.")
    else:
        account = principal.account_id
    today = dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
    q = meter.parse_query(args, today, account)
    p = prices(deps)
    return {
        "Start": q.start.isoformat(), "End": q.end.isoformat(), "Granularity": q.granularity,
        "Prices": {"PerGBSecond": p.per_gb_second, "PerMillionRequests": p.per_million_requests,
                   "PerProvisionedGBSecond": p.per_provisioned_gb_second},
        "Usage": meter.report(deps.redis, q, p),
    }
