"""Schedules (lamina's own API): /lamina/v1/schedules[/<name>] — create, list, get, update, delete."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.api.shapes import Reader, time_str, without_none
from lamina.services.triggers import schedules
from lamina.services.triggers.schedules import ScheduleRecord

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
    return schedule_shape(rec), 201


def _state(value: str) -> bool:
    from lamina.errors import InvalidParameterValueException

    if value not in ("ENABLED", "DISABLED"):
        raise InvalidParameterValueException("State must be ENABLED or DISABLED.")
    return value == "ENABLED"


@bp.get(BASE)
def list_schedules() -> ResponseReturnValue:
    recs = schedules.list_schedules(context.deps(), context.account_id(), request.args.get("FunctionName") or None)
    return {"Schedules": [schedule_shape(r) for r in recs]}


@bp.get(BASE + "/<name>")
def get_schedule(name: str) -> ResponseReturnValue:
    return schedule_shape(schedules.get(context.deps(), context.account_id(), name))


@bp.put(BASE + "/<name>")
def update_schedule(name: str) -> ResponseReturnValue:
    r = Reader(context.body())
    state = r.string("State")
    rec = schedules.update(
        context.deps(), context.account_id(), name, enabled=_state(state) if state is not None else None,
        expression=r.string("ScheduleExpression"), description=r.string("Description"), payload=_input(r),
    )
    return schedule_shape(rec)


@bp.delete(BASE + "/<name>")
def delete_schedule(name: str) -> ResponseReturnValue:
    schedules.delete(context.deps(), context.account_id(), name)
    return "", 204


# -- wire shapes


def schedule_shape(rec: ScheduleRecord) -> dict[str, Any]:
    return without_none({
        "Name": rec.name,
        "Arn": rec.arn,
        "ScheduleExpression": rec.expression,
        "State": "ENABLED" if rec.enabled else "DISABLED",
        "FunctionArn": rec.function_arn,
        "Description": rec.description,
        "CreationTime": time_str(rec.created),
        "LastModified": time_str(rec.last_modified),
        "Input": rec.payload,
        "NextFireTime": time_str(rec.next_fire) if rec.next_fire is not None else None,
    })
