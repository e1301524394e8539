"""Queries of the trigger tables (schedules, event source mappings, function URLs).

Like ``lamina.store.queries``: functions take an open ``Session`` (the caller owns the transaction)
and return model objects, with the owning function's name where callers need it.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from lamina.store.models import EventSourceMapping, Function, FunctionUrl, Schedule

TRIGGER_MODELS = (Schedule, EventSourceMapping, FunctionUrl)

# A trigger table with its function's name beside each row.
_Owned = TypeVar("_Owned", Schedule, EventSourceMapping)


def _one(session: Session, model: type[_Owned], *where: ColumnElement[bool],
         lock: bool = False) -> tuple[_Owned, str] | None:
    stmt = select(model, Function.name).join(Function, model.function_id == Function.id).where(*where)
    if lock:
        stmt = stmt.with_for_update(of=model)
    row = session.execute(stmt).one_or_none()
    return (row[0], row[1]) if row else None


def _owned_by(model: type[_Owned], account_id: str | None, function_id: int | None,
              enabled_only: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if account_id is not None:
        where.append(model.account_id == account_id)
    if function_id is not None:
        where.append(model.function_id == function_id)
    if enabled_only:
        where.append(model.enabled.is_(True))
    return where


# -- schedules


def get_schedule(session: Session, account_id: str, name: str, lock: bool = False) -> tuple[Schedule, str] | None:
    return _one(session, Schedule, Schedule.account_id == account_id, Schedule.name == name, lock=lock)


def list_schedules(session: Session, account_id: str | None = None, function_id: int | None = None,
                   enabled_only: bool = False) -> list[tuple[Schedule, str]]:
    """(schedule, function name) pairs, by schedule name; all accounts when ``account_id`` is None."""
    stmt = (select(Schedule, Function.name).join(Function, Schedule.function_id == Function.id)
            .where(*_owned_by(Schedule, account_id, function_id, enabled_only)))
    return [(s, n) for s, n in session.execute(stmt.order_by(Schedule.account_id, Schedule.name))]


# -- event source mappings


def get_mapping(session: Session, account_id: str, uuid: str,
                lock: bool = False) -> tuple[EventSourceMapping, str] | None:
    return _one(session, EventSourceMapping, EventSourceMapping.account_id == account_id,
                EventSourceMapping.uuid == uuid, lock=lock)


def list_mappings(session: Session, account_id: str | None = None, function_id: int | None = None,
                  event_source_arn: str | None = None, after_id: int | None = None, limit: int | None = None,
                  enabled_only: bool = False) -> list[tuple[EventSourceMapping, str]]:
    where = _owned_by(EventSourceMapping, account_id, function_id, enabled_only)
    if event_source_arn is not None:
        where.append(EventSourceMapping.event_source_arn == event_source_arn)
    if after_id is not None:
        where.append(EventSourceMapping.id > after_id)
    stmt = (select(EventSourceMapping, Function.name).join(Function, EventSourceMapping.function_id == Function.id)
            .where(*where).order_by(EventSourceMapping.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(m, n) for m, n in session.execute(stmt)]


# -- function URLs


def get_url(session: Session, function_id: int, qualifier: str, lock: bool = False) -> FunctionUrl | None:
    stmt = select(FunctionUrl).where(FunctionUrl.function_id == function_id, FunctionUrl.qualifier == qualifier)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_urls(session: Session, function_id: int) -> list[FunctionUrl]:
    return list(session.scalars(
        select(FunctionUrl).where(FunctionUrl.function_id == function_id).order_by(FunctionUrl.qualifier)
    ))


def url_by_id(session: Session, url_id: str) -> tuple[FunctionUrl, str, str] | None:
    """(url, account id, function name) of URL ``url_id``, or None."""
    row = session.execute(
        select(FunctionUrl, Function.account_id, Function.name).join(Function, FunctionUrl.function_id == Function.id)
        .where(FunctionUrl.url_id == url_id)
    ).one_or_none()
    return (row[0], row[1], row[2]) if row else None


def delete_for_qualifier(session: Session, function_id: int, qualifier: str) -> None:
    """Remove the triggers of one alias or version of a function (it is being deleted)."""
    for model in TRIGGER_MODELS:
        session.execute(delete(model).where(model.function_id == function_id, model.qualifier == qualifier))
