"""Usage metering, as Lambda bills: requests, billed duration (rounded up to 1 ms), GB-seconds (billed duration
x memory / 1024), provisioned GB-seconds, errors and throttles, per account, function, qualifier and UTC day.

Recording happens in ``lamina.services.invoke.metrics.Metrics`` (in process, no I/O on the invoke path) and
is flushed with its other series every 2 s into one Redis hash per day that never expires:

* ``lamina:usage:<YYYY-MM-DD>`` fields ``<account>|<function>|<qualifier>|<counter>``, counters ``req err thr
  billed_ms mb_ms`` (memory MB x billed ms) and ``pc_mb_s`` (provisioned MB x seconds).

Every process that invokes (API, worker for asynchronous, scheduled and queue-fed invokes) writes there, so
the totals are the platform's; Redis keeps them across restarts (AOF, replicas: docs/fleet.md) as it keeps
queued events. This module turns them into reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.errors import InvalidParameterValueException

PREFIX = "lamina:usage"
COUNTERS = ("req", "err", "thr", "billed_ms", "mb_ms", "pc_mb_s")
GRANULARITIES = ("DAILY", "MONTHLY", "TOTAL")
MAX_DAYS = 366


def day_key(day: str) -> str:
    return f"{PREFIX}:{day}"


def day_of(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%d")


def billed_ms(duration_ms: float) -> int:
    """Lambda's billed duration: the duration rounded up to the next millisecond, at least 1 ms."""
    return max(1, math.ceil(duration_ms))


def field(account_id: str, function_name: str, qualifier: str, counter: str) -> str:
    return f"{account_id}|{function_name}|{qualifier}|{counter}"


MAX_PROVISIONED_GAP_S = 10.0  # a keeper round missed for longer (no keeper ran) is not billed


def provisioned_round(redis_client: Any, account_id: str, function_name: str, qualifier: str, memory_mb: int,
                      now: float) -> None:
    """Count the provisioned environments' ``memory_mb`` (their sum) for the time since the last round of
    whichever process kept this configuration (its keeper's lock makes the rounds one at a time)."""
    seen = f"{PREFIX}:pc-seen:{account_id}:{function_name}:{qualifier}"
    last = redis_client.getset(seen, repr(now))
    redis_client.expire(seen, 3600)
    if last is None or memory_mb <= 0:
        return
    elapsed = min(max(0.0, now - float(last)), MAX_PROVISIONED_GAP_S)
    if elapsed > 0:
        redis_client.hincrbyfloat(day_key(day_of(now)), field(account_id, function_name, qualifier, "pc_mb_s"),
                                  memory_mb * elapsed)


@dataclass(frozen=True)
class Prices:
    """What a platform team charges (LAMINA_PRICE_*); Lambda's x86 list prices by default."""

    per_gb_second: float
    per_million_requests: float
    per_provisioned_gb_second: float


@dataclass(frozen=True)
class Query:
    start: dt.date
    end: dt.date  # inclusive
    function_name: str | None
    granularity: str
    account_id: str | None  # None: every account (platform administrators)


def parse_query(args: Mapping[str, str], today: dt.date, account_id: str | None) -> Query:
    """Validate Start, End (YYYY-MM-DD, inclusive; default the last 30 days), FunctionName, Granularity."""
    unknown = set(args) - {"Start", "End", "FunctionName", "Granularity", "AccountId", "Format"}
    if unknown:
        raise InvalidParameterValueException(f"Unknown parameter(s): {', '.join(sorted(unknown))}")

    def date(name: str, default: dt.date) -> dt.date:
        raw = args.get(name)
        if raw is None or raw == "":
            return default
        try:
            if len(raw) != 10:
                raise ValueError(raw)
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise InvalidParameterValueException(f"{name} must be a date as YYYY-MM-DD, got {raw[:40]!r}") from None

    end = date("End", today)
    start = date("Start", end - dt.timedelta(days=29))
    if start > end:
        raise InvalidParameterValueException("Start must not be after End")
    if (end - start).days >= MAX_DAYS:
        raise InvalidParameterValueException(f"At most {MAX_DAYS} days per request")
    granularity = (args.get("Granularity") or "DAILY").upper()
    if granularity not in GRANULARITIES:
        raise InvalidParameterValueException(f"Granularity must be one of {', '.join(GRANULARITIES)}")
    name = args.get("FunctionName") or None
    if name is not None and (len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum()):
        raise InvalidParameterValueException(f"Invalid FunctionName: {name!r}")
    return Query(start, end, name, granularity, account_id)


def _period(day: str, granularity: str, q: Query) -> str:
    if granularity == "MONTHLY":
        return day[:7]
    if granularity == "TOTAL":
        return f"{q.start.isoformat()}/{q.end.isoformat()}"
    return day


def report(redis_client: Any, q: Query, prices: Prices) -> list[dict[str, Any]]:
    """Rows of usage and cost: one per period, account, function and qualifier, in that order."""
    days = [(q.start + dt.timedelta(days=i)).isoformat() for i in range((q.end - q.start).days + 1)]
    pipe = redis_client.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(day_key(day))
    totals: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0.0))
    for day, raw in zip(days, pipe.execute(), strict=True):
        for f, v in raw.items():
            parts = (f.decode() if isinstance(f, bytes) else str(f)).split("|")
            if len(parts) != 4 or parts[3] not in COUNTERS:
                continue
            account, name, qualifier, counter = parts
            if (q.account_id is not None and account != q.account_id) or (q.function_name and name != q.function_name):
                continue
            totals[(_period(day, q.granularity, q), account, name, qualifier)][counter] += float(v)
    return [_row(key, counts, prices) for key, counts in sorted(totals.items())]


def _row(key: tuple[str, str, str, str], c: Mapping[str, float], prices: Prices) -> dict[str, Any]:
    period, account, name, qualifier = key
    gb_s = c["mb_ms"] / 1024 / 1000
    pc_gb_s = c["pc_mb_s"] / 1024
    requests = int(c["req"])
    cost = gb_s * prices.per_gb_second + requests / 1e6 * prices.per_million_requests \
        + pc_gb_s * prices.per_provisioned_gb_second
    return {
        "Period": period, "AccountId": account, "FunctionName": name, "Qualifier": qualifier,
        "Requests": requests, "Errors": int(c["err"]), "Throttles": int(c["thr"]),
        "BilledDurationMs": int(c["billed_ms"]), "GBSeconds": round(gb_s, 6),
        "ProvisionedGBSeconds": round(pc_gb_s, 6), "Cost": round(cost, 8),
    }


CSV_COLUMNS = ("Period", "AccountId", "FunctionName", "Qualifier", "Requests", "Errors", "Throttles",
               "BilledDurationMs", "GBSeconds", "ProvisionedGBSeconds", "Cost")


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in CSV_COLUMNS})
    return out.getvalue()
