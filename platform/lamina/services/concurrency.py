"""Reserved concurrency: a per-function cap that also keeps at least 100 executions unreserved.

The account-wide sum is checked under an account advisory lock, so two concurrent reservations for
different functions cannot together eat into the unreserved minimum.
"""

from __future__ import annotations

from lamina.services import common, validate
from lamina.services.common import Deps
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
        if deps.settings.account_concurrency - others - reserved < MIN_UNRESERVED:
            raise validate.invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
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


def reserved_total(sessions: queries.SessionFactory, account_id: str) -> int:
    """The sum of the account's reservations (the invoke path caches it: ``catalog.fill_reservations``)."""
    with sessions() as session:
        return queries.reserved_total(session, account_id)
