"""Schedules: EventBridge ``rate()`` and ``cron()`` expressions that invoke a function or alias.

A schedule is a row (``lamina.store.models.Schedule``); ``fire_due`` (run by every ``lamina worker``
several times a second) finds each enabled schedule's latest due time and fires it at most once
across all schedulers: the fire is a WATCH/MULTI transaction that writes the marker key
``lamina:sched:<id>:<due ms>`` together with the asynchronous event, so of two schedulers racing for
one due time exactly one commits, and a scheduler that dies half-way commits nothing. The event is
EventBridge's scheduled-event document (or the schedule's constant input) and runs as an ``Event``
invocation, with the function's retries and destinations.

EventBridge cron has six fields, ``minutes hours day-of-month month day-of-week year``, one of the two
day fields being ``?``, and numbers days of the week 1-7 from Sunday; croniter takes the first five
with days 0-6 from Sunday, so the day-of-week numbers are shifted and the year is checked here.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from croniter import croniter

from lamina.errors import InvalidParameterValueException, ResourceConflictException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.events import events
from lamina.services.iam import policies
from lamina.store import queries
from lamina.store import triggers as store
from lamina.store.models import Function, Schedule

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,64}")
RATE_RE = re.compile(r"rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)")
CRON_RE = re.compile(r"cron\((.*)\)")
UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MISFIRE_GRACE_S = 60.0
MARKER_TTL_S = 2 * 86400


@dataclass(frozen=True)
class Expression:
    """A parsed schedule expression: ``period_s`` for rate(), ``cron`` (5 fields) and ``years`` for cron()."""

    text: str
    period_s: int | None = None
    cron: str | None = None
    years: str = "*"

    def latest_due(self, anchor: float, now: float) -> float | None:
        """The latest due time in (anchor, now], or None. Rates count from ``anchor`` (creation)."""
        if self.period_s is not None:
            k = int((now - anchor) // self.period_s)
            return anchor + k * self.period_s if k >= 1 else None
        assert self.cron is not None
        due = float(croniter(self.cron, now + 0.0005).get_prev(float))
        for _ in range(400):
            if due <= anchor:
                return None
            if _year_matches(self.years, datetime.fromtimestamp(due, UTC).year):
                return due
            due = float(croniter(self.cron, due).get_prev(float))
        return None

    def due_times(self, anchor: float, since: float, now: float, limit: int = 60) -> list[float]:
        """The due times in (max(anchor, since), now], oldest first (at most ``limit``, the latest ones)."""
        found: list[float] = []
        due = self.latest_due(anchor, now)
        while due is not None and due > since and len(found) < limit:
            found.append(due)
            due = self.latest_due(anchor, due - 0.001)
        return found[::-1]

    def next_due(self, anchor: float, now: float) -> float | None:
        """The first due time after ``now`` (None if the year field excludes every later one)."""
        if self.period_s is not None:
            k = int((now - anchor) // self.period_s) + 1
            return anchor + max(k, 1) * self.period_s
        assert self.cron is not None
        due = float(croniter(self.cron, now).get_next(float))
        for _ in range(400):
            if _year_matches(self.years, datetime.fromtimestamp(due, UTC).year):
                return due
            due = float(croniter(self.cron, due).get_next(float))
        return None


def _year_matches(spec: str, year: int) -> bool:
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
        if part in ("*", "?"):
            lo, hi = 1970, 2199
        elif "-" in part:
            a, b = part.split("-", 1)
            lo, hi = int(a), int(b)
        else:
            lo = hi = int(part)
            if step != 1:
                hi = 2199
        if lo <= year <= hi and (year - lo) % step == 0:
            return True
    return False


def _shift_dow(field: str) -> str:
    """EventBridge days of the week (1-7 from Sunday) to croniter's (0-6 from Sunday)."""

    def one(token: str) -> str:
        head, sep, nth = token.partition("#")
        head = re.sub(r"\d+", lambda m: str(int(m.group()) - 1) if 1 <= int(m.group()) <= 7 else "x", head)
        return head + sep + nth

    return ",".join(one(t) for t in field.split(","))


def parse_expression(text: str, min_rate_s: int = 60) -> Expression:
    """Parse ``rate(...)`` or ``cron(...)``; InvalidParameterValueException names what is wrong."""
    text = (text or "").strip()
    rate = RATE_RE.fullmatch(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise InvalidParameterValueException("The rate value must be a positive integer.")
        if unit == "second" and min_rate_s >= 60:
            raise InvalidParameterValueException("rate() takes minutes, hours or days.")
        period = value * UNIT_S[unit]
        if period < min_rate_s:
            raise InvalidParameterValueException(f"The rate must be at least {min_rate_s} seconds.")
        return Expression(text=text, period_s=period)
    cron = CRON_RE.fullmatch(text)
    if not cron:
        raise InvalidParameterValueException(
            f"Parameter ScheduleExpression is not valid: {text!r}; "
            "use rate(N unit) or cron(min hour dom month dow year)."
        )
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise InvalidParameterValueException("A cron() expression has six fields: min hour dom month dow year.")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise InvalidParameterValueException(
            "In a cron() expression exactly one of day-of-month and day-of-week must be '?'."
        )
    five = " ".join([minute, hour, "*" if dom == "?" else dom, month, "*" if dow == "?" else _shift_dow(dow)])
    if "x" in five or not croniter.is_valid(five) or not re.fullmatch(r"[0-9*,/?-]+", year):
        raise InvalidParameterValueException(f"Parameter ScheduleExpression is not valid: {text!r}.")
    try:
        _year_matches(year, 2000)
    except ValueError:
        raise InvalidParameterValueException(f"Parameter ScheduleExpression is not valid: {text!r}.") from None
    return Expression(text=text, cron=five, years=year)


@dataclass(frozen=True)
class ScheduleRecord:
    name: str
    arn: str
    expression: str
    enabled: bool
    function_name: str
    function_arn: str
    qualifier: str | None
    description: str
    payload: str | None
    created: datetime
    last_modified: datetime
    next_fire: datetime | None


def rule_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:rule/{name}"


def record(deps: Deps, row: Schedule, function_name: str, now: float | None = None) -> ScheduleRecord:
    s = deps.settings
    nxt = None
    if row.enabled:
        expr = parse_expression(row.expression, min_rate_s=1)
        now_ts = common.now().timestamp() if now is None else now
        due = expr.next_due(row.created.timestamp(), now_ts)
        nxt = datetime.fromtimestamp(due, UTC) if due is not None else None
    return ScheduleRecord(
        name=row.name, arn=rule_arn(s.region, row.account_id, row.name), expression=row.expression,
        enabled=row.enabled, function_name=function_name,
        function_arn=arns.function_arn(s.region, row.account_id, function_name, row.qualifier),
        qualifier=row.qualifier, description=row.description, payload=row.payload, created=row.created,
        last_modified=row.last_modified, next_fire=nxt,
    )


def target(deps: Deps, session: Any, account_id: str, function_name: str,
           qualifier: str | None = None) -> tuple[Function, str | None]:
    """The function a trigger names (name, ARN, name:qualifier) and its qualifier, which must exist."""
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id, qualifier)
    fn = common.load_function(deps, session, account_id, ref.name)
    qual = ref.qualifier
    if qual not in (None, arns.LATEST):
        exists = (queries.get_version(session, fn.id, int(qual)) if arns.VERSION_RE.fullmatch(qual)
                  else queries.get_alias(session, fn.id, qual))
        if exists is None:
            raise common.not_found(deps.settings.region, account_id, fn.name, qual)
    return fn, qual


def _check_payload(payload: str | None) -> str | None:
    if payload is None:
        return None
    try:
        json.loads(payload)
    except ValueError:
        raise InvalidParameterValueException("Input must be a JSON document.") from None
    if len(payload.encode()) > 8192:
        raise InvalidParameterValueException("Input must be at most 8192 bytes.")
    return payload


def create(deps: Deps, account_id: str, name: str, function_name: str, expression: str, *,
           qualifier: str | None = None, enabled: bool = True, description: str = "",
           payload: str | None = None) -> ScheduleRecord:
    """Create schedule ``name``; ResourceConflictException if it exists."""
    if not NAME_RE.fullmatch(name or ""):
        raise InvalidParameterValueException("Schedule names are 1-64 characters of [a-zA-Z0-9_.-].")
    parse_expression(expression, deps.settings.schedule_min_rate_s)
    if len(description) > 512:
        raise InvalidParameterValueException("Description must be at most 512 characters.")
    with deps.sessions.begin() as session:
        fn, qual = target(deps, session, account_id, function_name, qualifier)
        now = common.now()
        row = Schedule(account_id=account_id, name=name, function_id=fn.id, qualifier=qual,
                       expression=expression.strip(), enabled=enabled, description=description,
                       payload=_check_payload(payload), created=now, last_modified=now)
        if not queries.add_unique(session, row):
            raise ResourceConflictException(f"Schedule {name} already exists.")
        rec = record(deps, row, fn.name)
    # The schedule fires only while the function's policy lets it (checked in fire_due).
    policies.grant_trigger(deps, account_id, rec.function_name, qual, grant_sid(name),
                           policies.SCHEDULE_PRINCIPALS[0], source_arn=rec.arn)
    return rec


def grant_sid(name: str) -> str:
    return f"lamina-schedule-{name}"[:100]


def _load(session: Any, account_id: str, name: str, lock: bool = False) -> tuple[Schedule, str]:
    return common.found_or_404(store.get_schedule(session, account_id, name, lock=lock),
                               f"Schedule {name} does not exist.")


def get(deps: Deps, account_id: str, name: str) -> ScheduleRecord:
    with deps.sessions() as session:
        return record(deps, *_load(session, account_id, name))


def list_schedules(deps: Deps, account_id: str, function_name: str | None = None) -> list[ScheduleRecord]:
    with deps.sessions() as session:
        function_id = None
        if function_name:
            function_id = target(deps, session, account_id, function_name)[0].id
        return [record(deps, row, n) for row, n in store.list_schedules(session, account_id, function_id)]


def update(deps: Deps, account_id: str, name: str, *, enabled: bool | None = None, expression: str | None = None,
           description: str | None = None, payload: str | None = None) -> ScheduleRecord:
    """Change the given fields of schedule ``name`` (enable/disable, expression, description, input)."""
    if expression is not None:
        parse_expression(expression, deps.settings.schedule_min_rate_s)
    with deps.sessions.begin() as session:
        row, fn_name = _load(session, account_id, name, lock=True)
        if enabled is not None:
            row.enabled = enabled
        if expression is not None:
            row.expression = expression.strip()
            # A rate counts from its last change.
            row.created = common.now()
        if description is not None:
            row.description = description
        if payload is not None:
            row.payload = _check_payload(payload) if payload != "" else None
        row.last_modified = common.now()
        session.flush()
        return record(deps, row, fn_name)


def delete(deps: Deps, account_id: str, name: str) -> None:
    with deps.sessions.begin() as session:
        row, fn_name = _load(session, account_id, name, lock=True)
        qualifier = row.qualifier
        queries.delete_obj(session, row)
    policies.revoke_trigger(deps, account_id, fn_name, qualifier, grant_sid(name))


# -- firing


def scheduled_event(region: str, account_id: str, name: str, due: float, event_id: str) -> dict[str, Any]:
    """EventBridge's scheduled-event document for a due time."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn(region, account_id, name)],
        "detail": {},
    }


def marker(schedule_id: int, due: float) -> str:
    return f"lamina:sched:{schedule_id}:{int(round(due * 1000))}"


def fire_due(deps: Deps, queue: Any, now: float) -> list[str]:
    """Fire every due time of the enabled schedules in the last minute that has not fired yet.

    A due time that passed while no worker was alive (a restart) still fires, late, if it is at most a
    minute old; older ones are skipped, as EventBridge does with targets it cannot reach. Returns the
    request ids of the events this call fired. Safe to run from any number of processes: a marker per due
    time makes each fire exactly once.
    """
    with deps.sessions() as session:
        rows = store.list_schedules(session, enabled_only=True)
        due_list = []
        for row, fn_name in rows:
            try:
                expr = parse_expression(row.expression, min_rate_s=1)
            except InvalidParameterValueException:
                continue
            for due in expr.due_times(row.created.timestamp(), now - MISFIRE_GRACE_S, now):
                due_list.append((row.id, row.account_id, row.name, fn_name, row.qualifier, row.payload, due))
    fired = []
    for sid, account_id, name, fn_name, qualifier, payload, due in due_list:
        key = marker(sid, due)
        if deps.redis.exists(key):
            continue
        arn = rule_arn(deps.settings.region, account_id, name)
        if not policies.is_allowed(deps, account_id, fn_name, qualifier, principal=policies.SCHEDULE_PRINCIPALS,
                                   source_arn=arn):
            # Its grant was removed: this due time is skipped (once, whichever process sees it first).
            if deps.redis.set(key, "denied", nx=True, ex=MARKER_TTL_S):
                log.warning("schedule %s did not fire at %s: the resource policy of %s does not let "
                            "events.lamina invoke it (SourceArn %s)", name, due, fn_name, arn)
            continue
        rid = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
        body = payload if payload is not None else json.dumps(
            scheduled_event(deps.settings.region, account_id, name, due, rid))
        with deps.redis.pipeline() as pipe:
            try:
                pipe.watch(key)
                if pipe.exists(key):
                    continue
                pipe.multi()
                pipe.set(key, rid, ex=MARKER_TTL_S)
                events.accept_named(deps, queue, account_id, fn_name, qualifier, body.encode(), request_id=rid,
                                    source="schedule", pipe=pipe)
                pipe.execute()
                fired.append(rid)
            except redis.WatchError:
                continue
    return fired
