"""Asynchronous-invocation settings per function qualifier ($LATEST, a version or an alias).

``put`` replaces the whole configuration (omitted settings are removed); ``update`` changes only the
settings given, creating the configuration if there was none.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import validate
from lamina.services.records import EventInvokeInput, EventInvokeRecord, Page
from lamina.store import queries
from lamina.store.models import EventInvokeConfig, Function

MAX_PAGE = 50


def _validate(inp: EventInvokeInput) -> None:
    if inp.maximum_retry_attempts is not None:
        validate.int_range(inp.maximum_retry_attempts, "maximumRetryAttempts", 0, 2)
    if inp.maximum_event_age_s is not None:
        validate.int_range(inp.maximum_event_age_s, "maximumEventAgeInSeconds", 60, 21600)
    if inp.on_success is not None:
        validate.destination(inp.on_success, "destinationConfig.onSuccess.destination")
    if inp.on_failure is not None:
        validate.destination(inp.on_failure, "destinationConfig.onFailure.destination")


def _record(deps: Deps, fn: Function, row: EventInvokeConfig) -> EventInvokeRecord:
    dest = row.destination_config or {}
    return EventInvokeRecord(
        function_arn=arns.function_arn(deps.settings.region, fn.account_id, fn.name, row.qualifier),
        maximum_retry_attempts=row.maximum_retry_attempts,
        maximum_event_age_s=row.maximum_event_age_s,
        on_success=dest.get("on_success"),
        on_failure=dest.get("on_failure"),
        last_modified=row.last_modified,
    )


def _target(deps: Deps, session: Any, account_id: str, function_name: str, qualifier: str | None,
            lock: bool = False) -> tuple[Function, str]:
    """The function and the existing qualifier the configuration belongs to ($LATEST by default)."""
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id, qualifier)
    fn = common.load_function(deps, session, account_id, ref.name, lock=lock)
    qual = ref.qualifier or arns.LATEST
    if qual != arns.LATEST:
        exists = (queries.get_version(session, fn.id, int(qual)) if arns.VERSION_RE.fullmatch(qual)
                  else queries.get_alias(session, fn.id, qual))
        if exists is None:
            raise common.not_found(deps.settings.region, account_id, fn.name, qual)
    return fn, qual


def _missing(deps: Deps, fn: Function, qualifier: str) -> ResourceNotFoundException:
    arn = arns.function_arn(deps.settings.region, fn.account_id, fn.name, qualifier)
    return ResourceNotFoundException(f"The function {arn} doesn't have an EventInvokeConfig")


def _write(deps: Deps, account_id: str, function_name: str, qualifier: str | None, inp: EventInvokeInput,
           replace: bool) -> EventInvokeRecord:
    _validate(inp)
    if all(v is None for v in (inp.maximum_retry_attempts, inp.maximum_event_age_s, inp.on_success,
                               inp.on_failure)) and replace:
        raise InvalidParameterValueException(
            "You must specify at least one of error handling or destination setting."
        )
    with deps.sessions.begin() as session:
        fn, qual = _target(deps, session, account_id, function_name, qualifier, lock=True)
        row = queries.get_event_invoke_config(session, fn.id, qual)
        if row is None:
            row = EventInvokeConfig(function_id=fn.id, qualifier=qual, destination_config={},
                                    last_modified=common.now())
            session.add(row)
        dest = dict(row.destination_config or {})
        if replace:
            row.maximum_retry_attempts = inp.maximum_retry_attempts
            row.maximum_event_age_s = inp.maximum_event_age_s
            dest = {"on_success": inp.on_success or None, "on_failure": inp.on_failure or None}
        else:
            if inp.maximum_retry_attempts is not None:
                row.maximum_retry_attempts = inp.maximum_retry_attempts
            if inp.maximum_event_age_s is not None:
                row.maximum_event_age_s = inp.maximum_event_age_s
            # An empty Destination string removes that destination.
            if inp.on_success is not None:
                dest["on_success"] = inp.on_success or None
            if inp.on_failure is not None:
                dest["on_failure"] = inp.on_failure or None
        row.destination_config = dest
        row.last_modified = common.now()
        session.flush()
        result = _record(deps, fn, row)
        name = fn.name
    common.changed(deps, account_id, name)
    return result


def put(deps: Deps, account_id: str, function_name: str, qualifier: str | None,
        inp: EventInvokeInput) -> EventInvokeRecord:
    """PutFunctionEventInvokeConfig: replaces the configuration."""
    return _write(deps, account_id, function_name, qualifier, inp, replace=True)


def update(deps: Deps, account_id: str, function_name: str, qualifier: str | None,
           inp: EventInvokeInput) -> EventInvokeRecord:
    """UpdateFunctionEventInvokeConfig: merges the given settings into the configuration."""
    return _write(deps, account_id, function_name, qualifier, inp, replace=False)


def get(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> EventInvokeRecord:
    with deps.sessions() as session:
        fn, qual = _target(deps, session, account_id, function_name, qualifier)
        row = queries.get_event_invoke_config(session, fn.id, qual)
        if row is None:
            raise _missing(deps, fn, qual)
        return _record(deps, fn, row)


def delete(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> None:
    with deps.sessions.begin() as session:
        fn, qual = _target(deps, session, account_id, function_name, qualifier, lock=True)
        row = queries.get_event_invoke_config(session, fn.id, qual)
        if row is None:
            raise _missing(deps, fn, qual)
        queries.delete_obj(session, row)
        name = fn.name
    common.changed(deps, account_id, name)


def list_configs(deps: Deps, account_id: str, function_name: str, marker: str | None = None,
                 max_items: int | None = None) -> Page[EventInvokeRecord]:
    """ListFunctionEventInvokeConfigs, by qualifier; ``marker`` = last qualifier seen."""
    name = common.unqualified(deps, account_id, function_name)
    limit = validate.max_items(max_items, 50, MAX_PAGE)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        rows = queries.list_event_invoke_configs(session, fn.id, marker or None, limit + 1)
        items = [(r.qualifier, _record(deps, fn, r)) for r in rows]
    if len(items) > limit:
        return Page([r for _, r in items[:limit]], next_marker=items[limit - 1][0])
    return Page([r for _, r in items])
