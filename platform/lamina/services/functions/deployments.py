"""Gradual deployments (CodeDeploy's traffic shifting for Lambda aliases): an alias moves from its version to
a new one step by step, and goes back by itself when the new version fails.

Strategies: ``canary<P>-<N>m`` (P % for N minutes, then all), ``linear<P>-<N>m`` (P % more every N
minutes), ``all-at-once``; CodeDeploy's names (``LambdaCanary10Percent5Minutes``, ...) are read too, and an
interval may be given in seconds (``canary10-30s``). During each step the new version is judged by what it
did since the step began (the running totals ``lamina.services.invoke.metrics`` keeps per executed version):
with at least ``MinInvocations`` calls, an error rate above ``MaxErrorRate`` or a p99 above ``MaxP99Ms``
rolls the alias back to the old version at once. Someone changing the alias meanwhile stops the deployment
(the change is theirs). Worker processes advance deployments (``advance_all``, every second); a row being
advanced is locked, so several workers never take the same step twice.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from lamina.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import aliases, versions
from lamina.services.invoke import metrics
from lamina.store import queries
from lamina.store.models import Deployment

_STRATEGY_RE = re.compile(r"(canary|linear)(\d{1,2})-(\d{1,4})([sm])")
_CODEDEPLOY_RE = re.compile(r"(?:Lambda)?(Canary|Linear)(\d{1,2})Percent(?:Every)?(\d{1,4})Minutes?")
_DEPLOYMENT_ID_RE = re.compile(r"[0-9]{1,9}")
STARTING_LAPSE_S = 60.0  # a deployment still "Starting" this long lost its starter (SIGKILL): a worker ends it
ADVANCE_EVERY_S = 1.0


@dataclass(frozen=True)
class Strategy:
    kind: str  # canary, linear, all-at-once
    percent: int
    interval_s: int

    @property
    def weights(self) -> list[float]:
        """The new version's share at each step; the last is 1.0."""
        if self.kind == "all-at-once":
            return [1.0]
        if self.kind == "canary":
            return [self.percent / 100, 1.0]
        steps = [min(1.0, self.percent * i / 100) for i in range(1, 100 // self.percent + 2)]
        return sorted(set(steps))

    @property
    def name(self) -> str:
        if self.kind == "all-at-once":
            return "all-at-once"
        unit = f"{self.interval_s // 60}m" if self.interval_s % 60 == 0 else f"{self.interval_s}s"
        return f"{self.kind}{self.percent}-{unit}"


def parse_strategy(text: str) -> Strategy:
    if text.lower() in ("all-at-once", "allatonce", "lambdaallatonce"):
        return Strategy("all-at-once", 100, 0)
    m = _STRATEGY_RE.fullmatch(text)
    if m:
        kind, percent, count, unit = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        interval = count * (60 if unit == "m" else 1)
    else:
        c = _CODEDEPLOY_RE.fullmatch(text)
        if c is None:
            raise InvalidParameterValueException(
                f"Unknown Strategy {text!r}: canary<percent>-<n>m, linear<percent>-<n>m (or <n>s), all-at-once, "
                "or CodeDeploy's LambdaCanary10Percent5Minutes, LambdaLinear10PercentEvery1Minute, LambdaAllAtOnce")
        kind, percent, interval = c.group(1).lower(), int(c.group(2)), int(c.group(3)) * 60
    if not 1 <= percent <= 99:
        raise InvalidParameterValueException("A strategy's percentage is between 1 and 99")
    if not 1 <= interval <= 86400:
        raise InvalidParameterValueException("A strategy's interval is between 1 second and 24 hours")
    return Strategy(kind, percent, interval)


def _utc(epoch_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite, the embedded default, gives it back without its zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _doc(deps: Deps, account_id: str, function_name: str, d: Deployment) -> dict[str, Any]:
    return {
        "DeploymentId": str(d.id), "FunctionName": function_name,
        "AliasArn": arns.function_arn(deps.settings.region, account_id, function_name, d.alias), "Alias": d.alias,
        "FromVersion": d.from_version, "ToVersion": d.to_version, "Strategy": d.strategy, "Status": d.status,
        "Weight": d.weight, "MaxErrorRate": d.max_error_rate, "MaxP99Ms": d.max_p99_ms,
        "MinInvocations": d.min_invocations, "Reason": d.reason,
        "NextStepAt": d.next_step_at.isoformat() if d.next_step_at and d.status == "InProgress" else None,
        "Created": d.created.isoformat(), "Updated": d.updated.isoformat(),
        "History": [{k: v for k, v in h.items() if k != "totals"} for h in d.history],
    }


def _number(value: Any, name: str, low: float, high: float | None, default: Any) -> Any:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < low \
            or (high is not None and value > high):
        limit = f" to {high}" if high else ""
        raise InvalidParameterValueException(f"{name} must be a number from {low}{limit}")
    return value


def start(deps: Deps, account_id: str, function_name: str, body: dict[str, Any], now: float) -> dict[str, Any]:
    """Start shifting ``Alias`` to ``FunctionVersion`` (a version published from $LATEST when omitted)."""
    unknown = set(body) - {"Alias", "FunctionVersion", "Strategy", "MaxErrorRate", "MaxP99Ms", "MinInvocations"}
    if unknown:
        raise InvalidParameterValueException(f"Unknown member(s): {', '.join(sorted(unknown))}")
    alias_name, strategy_text = body.get("Alias"), body.get("Strategy")
    if not isinstance(alias_name, str) or not isinstance(strategy_text, str):
        raise InvalidParameterValueException("Alias and Strategy are required strings")
    strategy = parse_strategy(strategy_text)
    max_error_rate = float(_number(body.get("MaxErrorRate"), "MaxErrorRate", 0.0, 1.0, 0.05))
    max_p99 = _number(body.get("MaxP99Ms"), "MaxP99Ms", 1, None, None)
    min_invocations = int(_number(body.get("MinInvocations"), "MinInvocations", 1, 1_000_000, 5))
    if body.get("MinInvocations") is not None and not isinstance(body["MinInvocations"], int):
        raise InvalidParameterValueException("MinInvocations must be an integer")
    name = common.unqualified(deps, account_id, function_name)
    current = aliases.get_alias(deps, account_id, name, alias_name)
    if current.function_version == arns.LATEST:
        raise InvalidParameterValueException(f"Alias {alias_name} points to $LATEST: point it to a published version "
                                             "first (traffic shifts between versions)")
    if current.routing:
        raise ResourceConflictException(f"Alias {alias_name} already splits traffic ({current.routing}); "
                                        "finish that first")
    target = body.get("FunctionVersion")
    if target is None:
        target = versions.publish_version(deps, account_id, name).version
    if not isinstance(target, str) or not arns.VERSION_RE.fullmatch(target):
        raise InvalidParameterValueException("FunctionVersion must be a published version number")
    if target == current.function_version:
        raise InvalidParameterValueException(f"Alias {alias_name} already points to version {target}")
    first = strategy.weights[0]
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        if queries.get_version(session, fn.id, int(target)) is None:
            raise common.not_found(deps.settings.region, account_id, name, target)
        if queries.active_deployment(session, fn.id, alias_name) is not None:
            raise ResourceConflictException(f"A deployment of alias {alias_name} is in progress")
        at = _utc(now)
        totals = metrics.version_totals(deps.redis, account_id, name, target)
        # "Starting" until the alias carries the first weight: no worker takes a step before that.
        row = Deployment(
            function_id=fn.id, alias=alias_name, from_version=current.function_version, to_version=target,
            strategy=strategy.name, status="Starting", weight=first, max_error_rate=max_error_rate,
            max_p99_ms=max_p99, min_invocations=min_invocations, step_started=at,
            next_step_at=_utc(now + strategy.interval_s), reason="", created=at, updated=at,
            history=[{"at": at.isoformat(), "event": "Started", "weight": first, "totals": totals}],
        )
        session.add(row)
        session.flush()
        deployment_id = row.id
    try:
        _route(deps, account_id, name, alias_name, current.function_version, target, first)
    except LambdaError as err:
        _finish(deps, account_id, name, deployment_id, "Stopped", f"cannot shift the alias: {err.message}", now)
        raise
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name)
        started = queries.get_deployment(session, fn.id, deployment_id, lock=True)
        if started is not None and started.status == "Starting":
            started.status = "InProgress"
    if first >= 1.0:
        _finish(deps, account_id, name, deployment_id, "Succeeded", "all traffic on the new version", now)
    return get(deps, account_id, name, str(deployment_id))


def _route(deps: Deps, account_id: str, name: str, alias: str, old: str, new: str, weight: float) -> None:
    if weight >= 1.0:
        aliases.update_alias(deps, account_id, name, alias, function_version=new, routing={})
    elif weight <= 0.0:
        aliases.update_alias(deps, account_id, name, alias, function_version=old, routing={})
    else:
        aliases.update_alias(deps, account_id, name, alias, function_version=old, routing={new: round(weight, 4)})


def _finish(deps: Deps, account_id: str, name: str, deployment_id: int, status: str, reason: str,
            now: float, **figures: Any) -> None:
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name)
        row = queries.get_deployment(session, fn.id, deployment_id, lock=True)
        if row is None or row.status not in ("Starting", "InProgress"):
            return
        row.status, row.reason, row.updated, row.next_step_at = status, reason, _utc(now), None
        if status != "Succeeded":
            row.weight = 0.0
        row.history = [*row.history, {"at": _utc(now).isoformat(), "event": status, "weight": row.weight,
                                      "reason": reason, **figures}]


def get(deps: Deps, account_id: str, function_name: str, deployment_id: str) -> dict[str, Any]:
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        row = queries.get_deployment(session, fn.id, int(deployment_id)) \
            if _DEPLOYMENT_ID_RE.fullmatch(deployment_id) else None
        if row is None:
            raise ResourceNotFoundException(f"Deployment not found: {deployment_id}")
        return _doc(deps, account_id, name, row)


def list_deployments(deps: Deps, account_id: str, function_name: str) -> list[dict[str, Any]]:
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        return [_doc(deps, account_id, name, d) for d in queries.deployments_of(session, fn.id)]


def stop(deps: Deps, account_id: str, function_name: str, deployment_id: str, now: float) -> dict[str, Any]:
    """Stop a deployment in progress and send all traffic back to the old version."""
    doc = get(deps, account_id, function_name, deployment_id)
    name = doc["FunctionName"]
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name)
        row = queries.get_deployment(session, fn.id, int(deployment_id), lock=True)  # waits out a worker's step
        if row is None or row.status != "InProgress":
            raise ResourceConflictException(f"Deployment {deployment_id} is {doc['Status']}, not in progress")
        _close(row, "Stopped", f"stopped by request; traffic back on version {row.from_version}", _utc(now))
    # No worker takes a step of a stopped deployment: the alias is ours to put back.
    _route(deps, account_id, name, doc["Alias"], doc["FromVersion"], doc["ToVersion"], 0.0)
    return get(deps, account_id, name, deployment_id)


def advance_all(deps: Deps, now: float) -> list[str]:
    """Judge and step every deployment in progress; return what happened (``<id> <event>``)."""
    done: list[str] = []
    with deps.sessions.begin() as session:
        for row in queries.deployments_in_progress(session):
            fn = queries.function_by_id(session, row.function_id)
            try:
                event = _advance(deps, row, fn.account_id, fn.name, now)
            except LambdaError as err:  # the alias or a version went away: nothing left to shift
                event = _close(row, "Stopped", f"cannot go on: {err.message}", _utc(now))
            if event:
                done.append(f"{row.id} {event}")
    return done


def _advance(deps: Deps, row: Deployment, account_id: str, name: str, now: float) -> str | None:
    """One deployment's round, in the caller's transaction (its row locked)."""
    if row.status == "Starting":
        if (_utc(now) - _aware(row.updated)).total_seconds() < STARTING_LAPSE_S:
            return None  # its starter is shifting the alias now
        alias = aliases.get_alias(deps, account_id, name, row.alias)
        if alias.routing.get(row.to_version) is not None and alias.function_version == row.from_version:
            _route(deps, account_id, name, row.alias, row.from_version, row.to_version, 0.0)
        return _close(row, "Stopped", "its start was interrupted; traffic on version " + row.from_version,
                      _utc(now))
    alias = aliases.get_alias(deps, account_id, name, row.alias)
    expected_primary = row.to_version if row.weight >= 1.0 else row.from_version
    expected_routing = {} if row.weight >= 1.0 else {row.to_version: round(row.weight, 4)}
    at = _utc(now)
    if alias.function_version != expected_primary or {k: round(v, 4) for k, v in alias.routing.items()} \
            != expected_routing:
        return _close(row, "Stopped", f"alias {row.alias} was changed outside the deployment; left as it is", at)
    totals = metrics.version_totals(deps.redis, account_id, name, row.to_version)
    invocations, errors, p99 = metrics.window_stats(row.history[-1].get("totals") or {}, totals)
    figures = {"invocations": invocations, "errors": errors, "p99_ms": p99}
    if invocations >= row.min_invocations:
        rate = errors / invocations
        failed = (f"error rate {rate:.1%} over {invocations} invocations is above {row.max_error_rate:.1%}"
                  if rate > row.max_error_rate else
                  f"p99 {p99} ms over {invocations} invocations is above {row.max_p99_ms} ms"
                  if row.max_p99_ms is not None and p99 is not None and p99 > row.max_p99_ms else None)
        if failed:
            _route(deps, account_id, name, row.alias, row.from_version, row.to_version, 0.0)
            return _close(row, "RolledBack", f"version {row.to_version}: {failed}; traffic back on version "
                                             f"{row.from_version}", at, **figures)
    if row.next_step_at is None or at < _aware(row.next_step_at):
        return None
    strategy = parse_strategy(row.strategy)
    nxt = next((w for w in strategy.weights if w > row.weight + 1e-9), 1.0)
    _route(deps, account_id, name, row.alias, row.from_version, row.to_version, nxt)
    row.weight = nxt
    row.step_started, row.updated = at, at
    if nxt >= 1.0:
        row.status, row.next_step_at = "Succeeded", None
        row.reason = f"all traffic on version {row.to_version}"
        row.history = [*row.history, {"at": at.isoformat(), "event": "Succeeded", "weight": 1.0, **figures}]
        return "Succeeded"
    row.next_step_at = _utc(now + strategy.interval_s)
    row.history = [*row.history, {"at": at.isoformat(), "event": "Shifted", "weight": nxt, "totals": totals,
                                  **figures}]
    return "Shifted"


def _close(row: Deployment, status: str, reason: str, at: dt.datetime, **figures: Any) -> str:
    row.status, row.reason, row.updated, row.next_step_at = status, reason, at, None
    if status != "Succeeded":
        row.weight = 0.0
    row.history = [*row.history, {"at": at.isoformat(), "event": status, "weight": row.weight, "reason": reason,
                                  **figures}]
    return status
