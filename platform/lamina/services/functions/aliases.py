"""Aliases: named pointers to a version, optionally splitting traffic with one additional version.

Alias changes lock the function row, so they serialise with version deletes (which refuse to delete a
version an alias points to) and with each other.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import validate
from lamina.services.records import AliasRecord, Page
from lamina.store import queries, triggers
from lamina.store.models import Alias, Function

MAX_PAGE = 50


def _record(deps: Deps, fn: Function, alias: Alias) -> AliasRecord:
    return AliasRecord(
        arn=arns.function_arn(deps.settings.region, fn.account_id, fn.name, alias.name),
        name=alias.name,
        function_version=alias.function_version,
        description=alias.description,
        routing={str(k): float(v) for k, v in (alias.routing or {}).items()},
        revision_id=alias.revision_id,
    )


def _function_version(value: str) -> str:
    if not isinstance(value, str) or not (value == arns.LATEST or arns.VERSION_RE.fullmatch(value)):
        raise validate.constraint(value, "functionVersion",
                                  "Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)")
    return value


def _check_version_exists(deps: Deps, session: Any, fn: Function, version: str) -> None:
    if version != arns.LATEST and queries.get_version(session, fn.id, int(version)) is None:
        raise common.not_found(deps.settings.region, fn.account_id, fn.name, version)


def _routing(deps: Deps, session: Any, fn: Function, primary: str, weights: dict[str, float] | None) -> dict:
    """Validated AdditionalVersionWeights: at most one published version, not the primary, weight 0..1."""
    if not weights:
        return {}
    if len(weights) > 1:
        raise InvalidParameterValueException("Number of items in AdditionalVersionWeights cannot be greater than 1")
    (version, weight), = weights.items()
    if not arns.VERSION_RE.fullmatch(version):
        raise validate.constraint(version, "routingConfig.additionalVersionWeights",
                                  "Map keys must satisfy constraint: [Member must satisfy regular expression "
                                  "pattern: [0-9]+]")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
        raise validate.constraint(weight, "routingConfig.additionalVersionWeights",
                                  "Map value must satisfy constraint: [Member must have value between 0.0 and 1.0]")
    if primary == arns.LATEST:
        raise InvalidParameterValueException("$LATEST is not supported for an alias pointing to more than 1 version")
    if version == primary:
        raise InvalidParameterValueException(
            f"Invalid function version {version}. Function version {version} is already included in routing "
            "configuration."
        )
    _check_version_exists(deps, session, fn, version)
    return {version: float(weight)}


def _load(deps: Deps, session: Any, fn: Function, name: str, lock: bool = False) -> Alias:
    alias = queries.get_alias(session, fn.id, name, lock=lock)
    if alias is None:
        arn = arns.function_arn(deps.settings.region, fn.account_id, fn.name, name)
        raise ResourceNotFoundException(f"Alias not found: {arn}")
    return alias


def create_alias(deps: Deps, account_id: str, function_name: str, name: str, function_version: str,
                 description: str = "", routing: dict[str, float] | None = None) -> AliasRecord:
    """CreateAlias; ResourceConflictException if it exists, ResourceNotFoundException for a missing version."""
    fname = common.unqualified(deps, account_id, function_name)
    validate.alias_name(name)
    _function_version(function_version)
    validate.description(description)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, fname, lock=True)
        _check_version_exists(deps, session, fn, function_version)
        alias = Alias(
            function_id=fn.id, name=name, function_version=function_version, description=description,
            routing=_routing(deps, session, fn, function_version, routing), revision_id=common.new_revision(),
        )
        if not queries.add_unique(session, alias):
            arn = arns.function_arn(deps.settings.region, account_id, fname, name)
            raise ResourceConflictException(f"Alias already exists: {arn}")
        result = _record(deps, fn, alias)
    common.changed(deps, account_id, fname)
    return result


def get_alias(deps: Deps, account_id: str, function_name: str, name: str) -> AliasRecord:
    fname = common.unqualified(deps, account_id, function_name)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, fname)
        return _record(deps, fn, _load(deps, session, fn, name))


def update_alias(deps: Deps, account_id: str, function_name: str, name: str, function_version: str | None = None,
                 description: str | None = None, routing: dict[str, float] | None = None,
                 revision_id: str | None = None) -> AliasRecord:
    """UpdateAlias: changes the fields given; ``routing={}`` removes the additional version."""
    fname = common.unqualified(deps, account_id, function_name)
    if function_version is not None:
        _function_version(function_version)
    if description is not None:
        validate.description(description)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, fname, lock=True)
        alias = _load(deps, session, fn, name, lock=True)
        common.check_revision(alias.revision_id, revision_id)
        primary = function_version if function_version is not None else alias.function_version
        _check_version_exists(deps, session, fn, primary)
        weights = routing if routing is not None else alias.routing
        alias.routing = _routing(deps, session, fn, primary, weights)
        alias.function_version = primary
        if description is not None:
            alias.description = description
        alias.revision_id = common.new_revision()
        result = _record(deps, fn, alias)
    common.changed(deps, account_id, fname)
    return result


def delete_alias(deps: Deps, account_id: str, function_name: str, name: str) -> None:
    """DeleteAlias (and the alias's event-invoke configuration and triggers)."""
    fname = common.unqualified(deps, account_id, function_name)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, fname, lock=True)
        alias = _load(deps, session, fn, name)
        queries.delete_event_invoke_configs(session, fn.id, name)
        triggers.delete_for_qualifier(session, fn.id, name)
        queries.delete_obj(session, alias)
    common.changed(deps, account_id, fname)


def list_aliases(deps: Deps, account_id: str, function_name: str, function_version: str | None = None,
                 marker: str | None = None, max_items: int | None = None) -> Page[AliasRecord]:
    """ListAliases by name; ``function_version`` keeps those whose primary version it is."""
    fname = common.unqualified(deps, account_id, function_name)
    if function_version is not None:
        _function_version(function_version)
    limit = min(validate.max_items(max_items, 10000, MAX_PAGE), MAX_PAGE)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, fname)
        rows = queries.list_aliases(session, fn.id, marker or None, limit + 1, version=function_version)
        items = [_record(deps, fn, a) for a in rows]
    if len(items) > limit:
        return Page(items[:limit], next_marker=items[limit - 1].name)
    return Page(items)
