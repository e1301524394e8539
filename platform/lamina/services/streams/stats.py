"""What the console, the CLI and /metrics show of a stream: records per shard, the write rate, and how
far behind each mapping reading it is (its iterator age)."""

from __future__ import annotations

import time
from typing import Any

from lamina.services.common import Deps
from lamina.services.streams import streams
from lamina.services.streams.streams import StreamRecord
from lamina.services.triggers import event_sources, stream_poller

RATE_WINDOW_S = 10
RATE_CAP = 10_000  # entries read per shard and window: a listing costs at most this (the rate then reads "at least")


def _shard_counts(deps: Deps, stream: StreamRecord) -> list[tuple[int, int, str | None]]:
    """(records kept, records in the rate window, last sequence number) per shard."""
    since = f"{int((time.time() - RATE_WINDOW_S) * 1000)}-0"
    pipe = deps.redis.pipeline(transaction=False)
    for shard in stream.shards:
        key = streams.shard_key(stream.account_id, stream.name, shard.shard_id)
        pipe.xlen(key)
        pipe.xrange(key, min=since, count=RATE_CAP)
        pipe.xrevrange(key, count=1)
    raw = pipe.execute()
    out = []
    for i, shard in enumerate(stream.shards):
        length, recent, last = raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]
        seq = streams.sequence_of(shard.index, last[0][0].decode()) if last else None
        out.append((int(length), len(recent), seq))
    return out


def summary(deps: Deps, stream: StreamRecord) -> dict[str, Any]:
    counts = _shard_counts(deps, stream)
    return {
        "StreamName": stream.name, "StreamARN": stream.arn, "StreamStatus": stream.status,
        "StreamMode": stream.mode, "ShardCount": len(stream.shards), "RetentionPeriodHours": stream.retention_hours,
        "Records": sum(c[0] for c in counts),
        "IncomingRecordsPerSecond": round(sum(c[1] for c in counts) / RATE_WINDOW_S, 1),
        "CreatedTimestamp": stream.created,
    }


def consumers(deps: Deps, stream: StreamRecord) -> list[dict[str, Any]]:
    """The mappings reading ``stream``, each with its iterator age per shard (ms)."""
    page = event_sources.list_mappings(deps, stream.account_id, event_source_arn=stream.arn, max_items=10000)
    return [{"UUID": m.uuid, "FunctionArn": m.function_arn, "State": m.state,
             "IteratorAgeMilliseconds": stream_poller.iterator_ages(deps, m.uuid)} for m in page.items]


def detail(deps: Deps, stream: StreamRecord) -> dict[str, Any]:
    counts = _shard_counts(deps, stream)
    shards = [{"ShardId": s.shard_id, "StartingHashKey": str(s.start_hash), "EndingHashKey": str(s.end_hash),
               "Records": c[0], "IncomingRecordsPerSecond": round(c[1] / RATE_WINDOW_S, 1),
               "LastSequenceNumber": c[2]} for s, c in zip(stream.shards, counts, strict=True)]
    return {**summary(deps, stream), "Shards": shards, "Consumers": consumers(deps, stream)}
