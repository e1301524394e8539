"""Schedules (lamina's own API): /lamina/v1/schedules[/<name>] — create, list, get, update, delete."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.api import trigger_shapes as ts
from lamina.api.shapes import Reader
from lamina.services.triggers import schedules

bp = context.blueprint("schedules")
BASE = "/lamina/v1/schedules"


def _input(r: Reader) -> str | None:
    # Input is a JSON document given as a string (EventBridge's target Input) or as JSON itself.
    value = r.raw("Input")
    if value is None or isinstance(value, str):
        return r.string("Input")
    import json

    return json.dumps(value)


@bp.post(BASE)
def create_schedule() -> ResponseReturnValue:
    r = Reader(context.body())
    state = r.string("State") or "ENABLED"
    rec = schedules.create(
        context.deps(), context.account_id(), r.string("Name", required=True) or "",
        r.string("FunctionName", required=True) or "", r.string("ScheduleExpression", required=True) or "",
        qualifier=r.string("Qualifier"), enabled=_state(state), description=r.string("Description") or "",
        payload=_input(r),
    )
    return ts.schedule(rec), 201


def _state(value: str) -> bool:
    from lamina.errors import InvalidParameterValueException

    if value not in ("ENABLED", "DISABLED"):
        raise InvalidParameterValueException("State must be ENABLED or DISABLED.")
    return value == "ENABLED"


@bp.get(BASE)
def list_schedules() -> ResponseReturnValue:
    recs = schedules.list_schedules(context.deps(), context.account_id(), request.args.get("FunctionName") or None)
    return {"Schedules": [ts.schedule(r) for r in recs]}


@bp.get(BASE + "/<name>")
def get_schedule(name: str) -> ResponseReturnValue:
    return ts.schedule(schedules.get(context.deps(), context.account_id(), name))


@bp.put(BASE + "/<name>")
def update_schedule(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    state = r.string("State")
    rec = schedules.update(
        context.deps(), context.account_id(), name, enabled=_state(state) if state is not None else None,
        expression=r.string("ScheduleExpression"), description=r.string("Description"), payload=_input(r),
    )
    return ts.schedule(rec)


@bp.delete(BASE + "/<name>")
def delete_schedule(name: str) -> ResponseReturnValue:
    schedules.delete(context.deps(), context.account_id(), name)
    return "", 204
