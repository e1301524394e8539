"""Reserved concurrency: a per-function cap that also keeps at least 100 executions unreserved (or the
whole quota of an account whose quota is under 100, as Lambda does for new accounts), and the account
quotas (concurrency, API request rate) an operator sets per account.

The account-wide sum is checked under an account advisory lock, so two concurrent reservations for
different functions cannot together eat into the unreserved minimum.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import ResourceNotFoundException
from lamina.scheduler import catalog
from lamina.services import common
from lamina.services.common import Deps
from lamina.services.functions import validate
from lamina.store import queries

MIN_UNRESERVED = 100


def put(deps: Deps, account_id: str, function_name: str, reserved: int) -> int:
    """PutFunctionConcurrency; InvalidParameterValueException if it leaves < 100 unreserved."""
    name = common.unqualified(deps, account_id, function_name)
    if reserved < 0:
        raise validate.constraint(reserved, "reservedConcurrentExecutions",
                                  "Member must have value greater than or equal to 0")
    with deps.sessions.begin() as session:
        queries.lock_account(session, account_id)
        fn = common.load_function(deps, session, account_id, name, lock=True)
        others = queries.reserved_total(session, account_id, exclude_function_id=fn.id)
        limit = account_limit(deps, session, account_id)
        minimum = min(MIN_UNRESERVED, limit)
        if limit - others - reserved < minimum:
            raise validate.invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
            )
        fn.reserved_concurrency = reserved
    common.changed(deps, account_id, name, reservations=True)
    return reserved


def get(deps: Deps, account_id: str, function_name: str) -> int | None:
    """GetFunctionConcurrency: the reservation, or None when there is none."""
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions() as session:
        return common.load_function(deps, session, account_id, name).reserved_concurrency


def delete(deps: Deps, account_id: str, function_name: str) -> None:
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        fn.reserved_concurrency = None
    common.changed(deps, account_id, name, reservations=True)


def account_concurrency(sessions: queries.SessionFactory, account_id: str) -> tuple[int, int | None]:
    """(sum of the account's reservations, its own concurrency quota or None): what the invoke path caches
    (``catalog.fill_reservations``)."""
    with sessions() as session:
        return queries.reserved_total(session, account_id), queries.account_quotas(session, account_id)[0]


def account_limit(deps: Deps, session: Any, account_id: str) -> int:
    """The account's concurrency quota: its own, else the instance's ``account_concurrency``."""
    own = queries.account_quotas(session, account_id)[0]
    return deps.settings.account_concurrency if own is None else own


QUOTA_MAX = 1_000_000


def set_quotas(deps: Deps, account_id: str, concurrency: int | None, api_rate: int | None) -> None:
    """Give the account its own concurrency quota and API rate (requests per second); None: the instance's
    default. A quota below the account's reserved concurrency is refused."""
    for value, what in ((concurrency, "ConcurrentExecutions"), (api_rate, "ApiRequestsPerSecond")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= QUOTA_MAX):
            raise validate.invalid(f"{what} must be an integer from 1 to {QUOTA_MAX}.")
    with deps.sessions.begin() as session:
        queries.lock_account(session, account_id)
        reserved = queries.reserved_total(session, account_id)
        if concurrency is not None and concurrency < reserved:
            raise validate.invalid(
                f"ConcurrentExecutions {concurrency} is below the account's reserved concurrency ({reserved})."
            )
        if not queries.set_account_quotas(session, account_id, concurrency, api_rate):
            raise ResourceNotFoundException(f"Account not found: {account_id}")
    # The invoke path caches the quota with the reservations; API processes reload keys within
    # iam.KEY_CACHE_TTL_S, and with them the rate.
    catalog.reservations_changed(deps.redis, account_id)
