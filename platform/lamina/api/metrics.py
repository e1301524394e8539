"""Metrics: Prometheus ``/metrics``, and lamina's series API the console charts read.

``GET /lamina/v1/functions/<name>/metrics?start=&end=&period=`` (epoch seconds; default the last hour)
answers the stored per-minute series aggregated into points. ``GET /lamina/v1/metrics/last-hour?functions=a,b``
answers invocations and errors of the last 60 minutes per function (the functions list).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from lamina.errors import InvalidParameterValueException
from lamina.services.invoke import metrics
from lamina.services.triggers import stream_poller

bp = Blueprint("metrics", __name__)

MAX_WINDOW_S = 30 * 86400


def _account_id() -> str:
    return g.get("account_id") or current_app.extensions["lamina"].settings.account_id


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise InvalidParameterValueException(f"{name} must be a number of seconds since the epoch") from None


@bp.get("/metrics")
def prometheus() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if current_app.extensions["lamina"].settings.prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = current_app.extensions["lamina.invoker"].metrics.registry
    body = generate_latest(registry) + _async_queue_text() + _worker_text() + _provisioned_text() + _stream_text()
    body += _tenants_text()
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _stream_text() -> bytes:
    try:
        return stream_poller.iterator_age_text(current_app.extensions["lamina"].redis)
    except Exception:  # Redis unreachable: /metrics still answers with the in-process values
        return b""


def _tenants_text() -> bytes:
    try:
        return metrics.tenants_text(current_app.extensions["lamina"].redis)
    except Exception:  # Redis unreachable: /metrics still answers with the in-process values
        return b""


def _provisioned_text() -> bytes:
    try:
        return metrics.provisioned_text(current_app.extensions["lamina"].redis)
    except Exception:  # Redis unreachable: /metrics still answers with the in-process values
        return b""


def _worker_text() -> bytes:
    """The workers' totals (lamina_worker_*), kept in Redis by every `lamina worker` wherever it runs."""
    try:
        return metrics.worker_totals_text(current_app.extensions["lamina"].redis)
    except Exception:  # Redis unreachable: /metrics still answers with the in-process values
        return b""


def _async_queue_text() -> bytes:
    """Gauges of the asynchronous invocation queue, read from Redis at scrape time (not per process, so
    written as text rather than as prometheus-client values, which multiprocess mode would store per pid)."""
    try:
        q = metrics.async_queue(current_app.extensions["lamina"].redis)
    except Exception:  # Redis unreachable: /metrics still answers with the in-process values
        return b""
    lines = ["# HELP lamina_async_queue_depth Asynchronous events by state",
             "# TYPE lamina_async_queue_depth gauge"]
    lines += [f'lamina_async_queue_depth{{state="{state}"}} {q[state]}' for state in ("ready", "delayed", "running")]
    lines += ["# HELP lamina_async_oldest_event_age_seconds Age of the oldest event waiting to run",
              "# TYPE lamina_async_oldest_event_age_seconds gauge",
              f"lamina_async_oldest_event_age_seconds {q['oldest_age_s']}"]
    return ("\n".join(lines) + "\n").encode()


@bp.get("/lamina/v1/functions/<name>/metrics")
def series(name: str) -> Response:
    now = int(time.time())
    end = _int_arg("end", now + 60)
    start = _int_arg("start", end - 3600)
    if not 0 < end - start <= MAX_WINDOW_S:
        raise InvalidParameterValueException("the window must be positive and at most 30 days")
    period = _int_arg("period", 0) or None
    if period is not None and period < 60:
        raise InvalidParameterValueException("period must be at least 60 seconds")
    invoker = current_app.extensions["lamina.invoker"]
    invoker.metrics.flush()  # this process's pending minutes, so a chart read right after an invoke has it
    found = metrics.read_series(invoker.redis, _account_id(), name, start, end, period)
    return jsonify({"FunctionName": name, **found.as_dict()})


@bp.get("/lamina/v1/metrics/last-hour")
def last_hour() -> Response:
    names = [n for n in (request.args.get("functions") or "").split(",") if n][:1000]
    invoker = current_app.extensions["lamina.invoker"]
    invoker.metrics.flush()
    return jsonify(metrics.last_hour(invoker.redis, _account_id(), names))
