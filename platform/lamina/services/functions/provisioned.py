"""Provisioned concurrency configurations (Put/Get/List/DeleteProvisionedConcurrencyConfig), on published
versions and aliases, never on $LATEST.

The configuration is stored here; its environments live in the scheduler (``lamina.scheduler.provisioned``)
and are started by ``Invoker.provision`` (at once after a Put, and every round of ``lamina scheduler``).
Status is READY when every requested environment is initialized, IN_PROGRESS until then, FAILED (with the
reason) when an environment could not be initialized. A configuration counts against the function's
reserved concurrency and leaves the account's unreserved minimum, as on Lambda.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
)
from lamina.scheduler import provisioned
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import concurrency, validate
from lamina.services.records import Page
from lamina.store import queries
from lamina.store.models import Function, ProvisionedConcurrencyConfig

MAX_PAGE = 50
MAX_PROVISIONED = 100_000


def _qualifier(deps: Deps, session: Any, account_id: str, function_name: str, qualifier: str | None,
               lock: bool = False) -> tuple[Function, str, str]:
    """(function, qualifier, the version it runs) of a published version or an alias."""
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id, qualifier)
    if not ref.qualifier:
        raise InvalidParameterValueException("The Qualifier parameter is required for provisioned concurrency.")
    if ref.qualifier == arns.LATEST:
        raise InvalidParameterValueException(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
    fn = common.load_function(deps, session, account_id, ref.name, lock=lock)
    if arns.VERSION_RE.fullmatch(ref.qualifier):
        if queries.get_version(session, fn.id, int(ref.qualifier)) is None:
            raise common.not_found(deps.settings.region, account_id, fn.name, ref.qualifier)
        return fn, ref.qualifier, ref.qualifier
    alias = queries.get_alias(session, fn.id, ref.qualifier)
    if alias is None:
        raise common.not_found(deps.settings.region, account_id, fn.name, ref.qualifier)
    return fn, ref.qualifier, alias.function_version


def _versions_of(session: Any, fn: Function, qualifier: str) -> str:
    if arns.VERSION_RE.fullmatch(qualifier):
        return qualifier
    alias = queries.get_alias(session, fn.id, qualifier)
    return alias.function_version if alias is not None else ""


def _record(deps: Deps, fn: Function, row: ProvisionedConcurrencyConfig) -> dict[str, Any]:
    got = provisioned.counts(deps.redis, fn.account_id, fn.name, row.qualifier)
    reason = provisioned.failure(deps.redis, fn.account_id, fn.name, row.qualifier)
    status = "FAILED" if reason else ("READY" if got.available >= row.requested else "IN_PROGRESS")
    out: dict[str, Any] = {
        "FunctionArn": arns.function_arn(deps.settings.region, fn.account_id, fn.name, row.qualifier),
        "RequestedProvisionedConcurrentExecutions": row.requested,
        "AvailableProvisionedConcurrentExecutions": min(got.available, row.requested),
        "AllocatedProvisionedConcurrentExecutions": min(got.allocated, row.requested),
        "Status": status,
        "LastModified": row.last_modified,
    }
    if reason:
        out["StatusReason"] = reason
    return out


def _missing() -> ProvisionedConcurrencyConfigNotFoundException:
    return ProvisionedConcurrencyConfigNotFoundException("No Provisioned Concurrency Config found for this function")


def put(deps: Deps, account_id: str, function_name: str, qualifier: str | None,
        requested: int) -> tuple[dict[str, Any], str, str]:
    """PutProvisionedConcurrencyConfig: (the configuration's record, function name, qualifier)."""
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise validate.invalid("ProvisionedConcurrentExecutions must be an integer.")
    validate.int_range(requested, "provisionedConcurrentExecutions", 1, MAX_PROVISIONED)
    with deps.sessions.begin() as session:
        queries.lock_account(session, account_id)
        fn, qual, version = _qualifier(deps, session, account_id, function_name, qualifier, lock=True)
        common.refuse_for_tenancy(fn, "Provisioned concurrency")
        # One configuration per version: an alias and the version it points to cannot both have one.
        for other in queries.list_provisioned_configs(session, fn.id):
            if other.qualifier != qual and _versions_of(session, fn, other.qualifier) == version:
                raise ResourceConflictException(
                    f"Alias or version {other.qualifier} of this function already has provisioned concurrency "
                    f"on version {version}; a version takes one configuration.")
        total = queries.provisioned_total(session, fn.id, exclude_qualifier=qual) + requested
        if fn.reserved_concurrency is not None and total > fn.reserved_concurrency:
            raise validate.invalid("Requested Provisioned Concurrency should not be greater than the "
                                   "reservedConcurrentExecution for function")
        limit = concurrency.account_limit(deps, session, account_id)
        reserved_others = queries.reserved_total(session, account_id, exclude_function_id=fn.id)
        if fn.reserved_concurrency is None and limit - reserved_others - total < min(concurrency.MIN_UNRESERVED,
                                                                                        limit):
            raise validate.invalid(
                "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency "
                f"[{limit - reserved_others}]; the account keeps at least {min(concurrency.MIN_UNRESERVED, limit)}.")
        row = queries.get_provisioned_config(session, fn.id, qual)
        if row is None:
            row = ProvisionedConcurrencyConfig(function_id=fn.id, qualifier=qual, requested=requested,
                                               last_modified=common.now())
            session.add(row)
        row.requested = requested
        row.last_modified = common.now()
        session.flush()
        provisioned.set_failure(deps.redis, account_id, fn.name, qual, None)
        result = _record(deps, fn, row)
        name = fn.name
    common.changed(deps, account_id, name)  # its invocations' specs now carry the configuration
    return result, name, qual


def get(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> dict[str, Any]:
    with deps.sessions() as session:
        fn, qual, _version = _qualifier(deps, session, account_id, function_name, qualifier)
        row = queries.get_provisioned_config(session, fn.id, qual)
        if row is None:
            raise _missing()
        return _record(deps, fn, row)


def delete(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> tuple[str, str]:
    """DeleteProvisionedConcurrencyConfig; (function name, qualifier) whose environments to let go."""
    with deps.sessions.begin() as session:
        fn, qual, _version = _qualifier(deps, session, account_id, function_name, qualifier, lock=True)
        row = queries.get_provisioned_config(session, fn.id, qual)
        if row is None:
            raise _missing()
        queries.delete_obj(session, row)
        name = fn.name
    provisioned.set_failure(deps.redis, account_id, name, qual, None)
    common.changed(deps, account_id, name)
    return name, qual


def list_configs(deps: Deps, account_id: str, function_name: str, marker: str | None = None,
                 max_items: int | None = None) -> Page[dict[str, Any]]:
    """ListProvisionedConcurrencyConfigs, by qualifier; ``marker`` = the last qualifier seen."""
    name = common.unqualified(deps, account_id, function_name)
    limit = validate.max_items(max_items, MAX_PAGE, MAX_PAGE)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        rows = queries.list_provisioned_configs(session, fn.id, marker or None, limit + 1)
        items = [(r.qualifier, _record(deps, fn, r)) for r in rows]
    if len(items) > limit:
        return Page([r for _, r in items[:limit]], next_marker=items[limit - 1][0])
    return Page([r for _, r in items])


def all_configs(sessions: queries.SessionFactory) -> list[tuple[str, str, str, int]]:
    """Every configuration of every account: (account id, function name, qualifier, requested)."""
    with sessions() as session:
        out = []
        for row in queries.list_provisioned_configs(session):
            fn = row.function
            out.append((fn.account_id, fn.name, row.qualifier, row.requested))
        return out
