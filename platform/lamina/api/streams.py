"""Streams (lamina's own API): /lamina/v1/streams[/<name>] — list, get (shards with their records, the
write rate, and the iterator age of each mapping reading them), create, delete. The Kinesis API
(``lamina.api.kinesis``) serves the same streams to AWS's clients."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.api.shapes import Reader
from lamina.services.streams import stats, streams

bp = context.blueprint("streams")
BASE = "/lamina/v1/streams"


@bp.get(BASE)
def list_streams() -> ResponseReturnValue:
    deps, account = context.deps(), context.account_id()
    return {"Streams": [stats.summary(deps, s) for s in streams.list_streams(deps, account)]}


@bp.post(BASE)
def create_stream() -> ResponseReturnValue:
    r = Reader(context.body())
    rec = streams.create(context.deps(), context.account_id(), r.string("StreamName", required=True) or "",
                         r.integer("ShardCount"), r.string("StreamMode") or "PROVISIONED")
    return stats.summary(context.deps(), rec), 201


@bp.get(BASE + "/<name>")
def get_stream(name: str) -> ResponseReturnValue:
    deps = context.deps()
    return stats.detail(deps, streams.load(deps, context.account_id(), name))


@bp.delete(BASE + "/<name>")
def delete_stream(name: str) -> ResponseReturnValue:
    streams.delete(context.deps(), context.account_id(), name)
    return "", 204
