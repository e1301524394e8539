"""Function logs API (lamina's own): ``/lamina/v1/functions/<name>/logs`` and ``.../log-streams``."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request

from lamina.api import context
from lamina.api.shapes import query_int
from lamina.services.functions import functions
from lamina.services.logs import shared
from lamina.services.logs import streams as logs

bp = Blueprint("logs", __name__)


def _where() -> tuple[Path, str]:
    comps = current_app.extensions["lamina"]
    shared.sync(comps, g.account_id)  # LAMINA_LOG_STORE=postgres: every host's lines, first
    return comps.settings.data_dir, g.account_id


def _group_key(name: str) -> str:
    """Where a function's lines are: its LoggingConfig LogGroup (shared with other functions, maybe)."""
    return functions.log_key(context.deps(), g.account_id, name)


@bp.get("/lamina/v1/functions/<name>/logs")
def events(name: str) -> Response:
    data_dir, account_id = _where()
    page = logs.read_events(
        data_dir,
        account_id,
        _group_key(name),
        stream=request.args.get("stream") or None,
        since_ms=query_int(request.args, "since"),
        limit=query_int(request.args, "limit") or 100,
        next_token=request.args.get("nextToken") or None,
    )
    return jsonify({
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "logStreamName": e.log_stream_name}
            for e in page.events
        ],
        "nextToken": page.next_token,
    })


@bp.get("/lamina/v1/functions/<name>/log-streams")
def streams(name: str) -> Response:
    data_dir, account_id = _where()
    key = _group_key(name)
    found = logs.list_streams(data_dir, account_id, key)
    return jsonify({
        "logGroupName": logs.group_of_key(key),
        "logStreams": [
            {"logStreamName": s.name, "firstEventTimestamp": s.first_event_ms,
             "lastEventTimestamp": s.last_event_ms, "storedBytes": s.stored_bytes}
            for s in found
        ],
    })
