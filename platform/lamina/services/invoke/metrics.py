"""Invocation metrics: Prometheus counters and histograms, and the per-minute series the console charts.

Recording is in-process and costs no I/O on the caller's path: ``Metrics.invoked`` bumps prometheus-client
values and a dict of per-minute aggregates. A daemon timer flushes those aggregates to Redis in one
pipeline at most every ``flush_interval_s`` (and ``flush()`` on close), so the warm path keeps its two
Redis round trips.

Stored series (Redis, expiring after ``retention_s``):

* ``lamina:metrics:fn:<account>:<function>:<minute>`` hash: ``inv err thr cold warm dsum dcnt isum icnt``,
  ``b<i>`` (duration histogram bucket i, bounds ``DURATION_BUCKETS_MS``), ``e:<ErrorType>`` and
  ``c:<process token>`` (the most invocations in flight in that process during the minute; a chart sums them).
* ``lamina:metrics:acct:<account>:<minute>`` hash: ``<function>|inv`` and ``<function>|err`` (the functions list).

In a multi-process server set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) so
``/metrics`` adds up every process; the stored series are shared through Redis either way.

Workers (``lamina worker``, often on other hosts or containers than the API) also keep running totals in
one Redis hash, ``WORKER_TOTALS`` (fields ``<kind>|<account>|<function>``), flushed with the rest; the
API's ``/metrics`` turns it into the ``lamina_worker_*`` families (``worker_totals_text``), so
asynchronous, scheduled and queue-fed invocations are scraped without sharing a directory.
"""

from __future__ import annotations

import bisect
import logging
import os
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lamina.services.usage import meter

log = logging.getLogger(__name__)

DURATION_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000)
PREFIX = "lamina:metrics"
MAX_ERROR_TYPE = 64
PERIODS = (60, 300, 900, 3600)
WORKER_TOTALS = f"{PREFIX}:worker-totals"
# Running totals per tenant of PER_TENANT functions (fields ``<account>|<function>|<tenant>|inv`` / ``|err``)
# and of invocations stopped as recursive loops (fields ``<account>|<function>``).
TENANT_TOTALS = f"{PREFIX}:tenant-totals"
RECURSION_DROPS = f"{PREFIX}:recursive-drops"
MAX_TENANT_ID = 256


def fn_key(account_id: str, function_name: str, minute: int) -> str:
    return f"{PREFIX}:fn:{account_id}:{function_name}:{minute}"


def version_key(account_id: str, function_name: str, version: str) -> str:
    """Hash of a published version's running totals: ``inv``, ``err`` and duration buckets ``b<i>``."""
    return f"{PREFIX}:ver:{account_id}:{function_name}:{version}"


def version_totals(redis_client: Any, account_id: str, function_name: str, version: str) -> dict[str, float]:
    raw = redis_client.hgetall(version_key(account_id, function_name, version))
    return {(k.decode() if isinstance(k, bytes) else str(k)): float(v) for k, v in raw.items()}


def window_stats(before: dict[str, float], after: dict[str, float]) -> tuple[int, int, float | None]:
    """(invocations, errors, p99 ms) between two readings of ``version_totals``."""
    diff = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    buckets = [diff.get(f"b{i}", 0.0) for i in range(len(DURATION_BUCKETS_MS) + 1)]
    return int(diff.get("inv", 0)), int(diff.get("err", 0)), _percentile(buckets, 0.99)


def account_key(account_id: str, minute: int) -> str:
    return f"{PREFIX}:acct:{account_id}:{minute}"


def _prometheus(registry: Any) -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    labels = ("account", "function")
    seconds = tuple(b / 1000 for b in DURATION_BUCKETS_MS)
    return {
        "invocations": Counter("lamina_invocations", "Invocations run (synchronous and asynchronous)",
                               (*labels, "start"), registry=registry),
        "errors": Counter("lamina_errors", "Invocations that ended in a function or platform error",
                          (*labels, "error_type"), registry=registry),
        "throttles": Counter("lamina_throttles", "Invocations refused for lack of concurrency",
                             labels, registry=registry),
        "duration": Histogram("lamina_duration_seconds", "Invoke duration (the function's handler)",
                              labels, buckets=seconds, registry=registry),
        "init": Histogram("lamina_init_duration_seconds", "Init duration of cold starts",
                          labels, buckets=seconds, registry=registry),
        "billed": Counter("lamina_billed_duration_seconds", "Billed duration (Lambda's: rounded up to 1 ms)",
                          labels, registry=registry),
        "gb_seconds": Counter("lamina_gb_seconds", "GB-seconds used (billed duration x memory / 1024)",
                              labels, registry=registry),
        "concurrent": Gauge("lamina_concurrent_executions", "Invocations in flight",
                            labels, registry=registry, multiprocess_mode="livesum"),
    }


class Metrics:
    """Records invocations of one process; thread-safe. ``flush`` writes the pending minutes to Redis."""

    def __init__(
        self,
        redis_client: Any,
        *,
        retention_s: int = 3 * 86400,
        flush_interval_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        totals_key: str | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry

        self.redis = redis_client
        self.totals_key = totals_key  # also keep running totals in this Redis hash (workers: WORKER_TOTALS)
        self.retention_s = retention_s
        self.flush_interval_s = flush_interval_s
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.prom = _prometheus(self.registry)
        self.token = f"{os.getpid()}-{secrets.token_hex(3)}"
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, int], dict[str, float]] = {}
        # Usage metering (lamina.services.usage.meter): (account, function, qualifier, UTC day) -> counters.
        self._usage: dict[tuple[str, str, str, str], dict[str, float]] = {}
        # Running totals per executed version (gradual deployments judge a new version by them).
        self._versions: dict[tuple[str, str, str], dict[str, float]] = {}
        self._today: tuple[float, float, str] = (0.0, 0.0, "")  # [start, end) of the UTC day, and its name
        self._inflight: dict[tuple[str, str], int] = defaultdict(int)
        self._peak: dict[tuple[str, str, int], int] = {}
        self._timer: threading.Timer | None = None
        # prometheus-client's labels() costs microseconds: bind each function's children once.
        self._children: dict[tuple[str, str], tuple[Any, ...]] = {}
        # Flushes run one at a time, so a reader that flushes first sees what a concurrent flush was writing.
        self._flushing = threading.Lock()

    # -- recording (no I/O)

    def _bump(self, account_id: str, name: str, **counts: float) -> None:
        minute = int(self.clock() // 60)
        key = (account_id, name, minute)
        with self._lock:
            slot = self._pending.get(key)
            if slot is None:
                slot = self._pending[key] = defaultdict(float)
            for k, v in counts.items():
                slot[k] += v
            if self._timer is None:
                self._arm()

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.flush_interval_s, self._timed_flush)
            self._timer.daemon = True
            self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except Exception:  # Redis down: the next flush retries what is still pending
            log.warning("cannot write invocation metrics to Redis", exc_info=True)

    def _bound(self, account_id: str, name: str) -> tuple[Any, ...]:
        key = (account_id, name)
        found = self._children.get(key)
        if found is None:
            p = self.prom
            found = self._children[key] = (
                p["invocations"].labels(account_id, name, "cold"), p["invocations"].labels(account_id, name, "warm"),
                p["duration"].labels(account_id, name), p["init"].labels(account_id, name),
                p["concurrent"].labels(account_id, name), p["throttles"].labels(account_id, name),
                p["billed"].labels(account_id, name), p["gb_seconds"].labels(account_id, name),
            )
        return found

    def _day(self) -> str:
        """Today (UTC) for usage metering, formatted once a day rather than once an invocation."""
        now = self.clock()
        day = self._today
        if not day[0] <= now < day[1]:
            start = now - now % 86400
            day = self._today = (start, start + 86400, meter.day_of(start))
        return day[2]

    def _meter(self, account_id: str, name: str, qualifier: str | None, **counts: float) -> None:
        key = (account_id, name, qualifier or "$LATEST", self._day())
        with self._lock:
            slot = self._usage.get(key)
            if slot is None:
                slot = self._usage[key] = defaultdict(float)
            for k, v in counts.items():
                slot[k] += v

    def throttled(self, account_id: str, name: str, qualifier: str | None = None) -> None:
        self._bound(account_id, name)[5].inc()
        self._meter(account_id, name, qualifier, thr=1)
        self._bump(account_id, name, thr=1)

    def begin(self, account_id: str, name: str) -> None:
        self._bound(account_id, name)[4].inc()
        minute = int(self.clock() // 60)
        with self._lock:
            n = self._inflight[(account_id, name)] = self._inflight[(account_id, name)] + 1
            key = (account_id, name, minute)
            if n > self._peak.get(key, 0):
                self._peak[key] = n

    def end(self, account_id: str, name: str) -> None:
        self._bound(account_id, name)[4].dec()
        with self._lock:
            self._inflight[(account_id, name)] -= 1

    def invoked(
        self,
        account_id: str,
        name: str,
        *,
        cold: bool,
        duration_ms: float | None,
        init_duration_ms: float | None = None,
        error_type: str | None = None,
        tenant_id: str | None = None,
        qualifier: str | None = None,
        memory_mb: int | None = None,
        version: str | None = None,
    ) -> None:
        """Record one finished invocation (``error_type`` set when it failed; ``tenant_id`` its tenant;
        ``qualifier`` as invoked and ``memory_mb`` its MemorySize, for usage metering)."""
        b = self._bound(account_id, name)
        (b[0] if cold else b[1]).inc()
        failed = 1 if error_type is not None else 0
        billed = meter.billed_ms(duration_ms) if duration_ms is not None else 0
        if billed:
            b[6].inc(billed / 1000)
            b[7].inc(billed * (memory_mb or 128) / 1024 / 1000)
        usage_key = (account_id, name, qualifier or "$LATEST", self._day())
        with self._lock:  # usage metering and the per-version totals in one pass
            slot = self._usage.get(usage_key)
            if slot is None:
                slot = self._usage[usage_key] = defaultdict(float)
            slot["req"] += 1
            slot["err"] += failed
            if billed:
                slot["billed_ms"] += billed
                slot["mb_ms"] += billed * (memory_mb or 128)
            if version is not None and version != "$LATEST":
                totals = self._versions.get((account_id, name, version))
                if totals is None:
                    totals = self._versions[(account_id, name, version)] = defaultdict(float)
                totals["inv"] += 1
                totals["err"] += failed
                if duration_ms is not None:
                    totals[f"b{bisect.bisect_left(DURATION_BUCKETS_MS, duration_ms)}"] += 1
        counts: dict[str, float] = {"inv": 1, "cold" if cold else "warm": 1}
        if tenant_id:
            counts[f"t:{tenant_id[:MAX_TENANT_ID]}|inv"] = 1
            if error_type is not None:
                counts[f"t:{tenant_id[:MAX_TENANT_ID]}|err"] = 1
        if error_type is not None:
            error_type = error_type[:MAX_ERROR_TYPE] or "Unhandled"
            self.prom["errors"].labels(account_id, name, error_type).inc()
            counts["err"] = 1
            counts[f"e:{error_type}"] = 1
        if duration_ms is not None:
            b[2].observe(duration_ms / 1000)
            counts["dsum"] = duration_ms
            counts["dcnt"] = 1
            counts[f"b{bisect.bisect_left(DURATION_BUCKETS_MS, duration_ms)}"] = 1
        if init_duration_ms is not None:
            b[3].observe(init_duration_ms / 1000)
            counts["isum"] = init_duration_ms
            counts["icnt"] = 1
            counts[f"ib{bisect.bisect_left(DURATION_BUCKETS_MS, init_duration_ms)}"] = 1
        self._bump(account_id, name, **counts)

    # -- storage

    def flush(self) -> None:
        """Write the pending per-minute aggregates to Redis in one pipeline."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        now_minute = int(self.clock() // 60)
        with self._lock:
            pending, self._pending = self._pending, {}
            usage, self._usage = self._usage, {}
            versions, self._versions = self._versions, {}
            peaks = dict(self._peak)
            for key, n in self._inflight.items():  # long invocations count in every minute they span
                if n > 0:
                    minute_key = (*key, now_minute)
                    peaks[minute_key] = max(peaks.get(minute_key, 0), n)
            # A minute's peak may still grow while it is the current minute; older ones are final.
            self._peak = {k: v for k, v in self._peak.items() if k[2] >= now_minute}
        if not pending and not peaks and not usage and not versions:
            return
        pipe = self.redis.pipeline(transaction=False)
        for (account_id, name, version), counts in versions.items():
            vkey = version_key(account_id, name, version)
            for k, v in counts.items():
                if v:
                    pipe.hincrby(vkey, k, int(v))
            pipe.expire(vkey, self.retention_s)
        for (account_id, name, qualifier, day), counts in usage.items():
            for k, v in counts.items():
                if v:
                    pipe.hincrby(meter.day_key(day), meter.field(account_id, name, qualifier, k), int(v))
        ttl = self.retention_s
        for (account_id, name, minute), counts in pending.items():
            hkey = fn_key(account_id, name, minute)
            for k in [k for k in counts if k.startswith("t:")]:  # a tenant's: running totals only
                pipe.hincrby(TENANT_TOTALS, f"{account_id}|{name}|{k[2:]}", int(counts.pop(k)))
            for k, v in counts.items():
                if k in ("dsum", "isum"):
                    pipe.hincrbyfloat(hkey, k, v)
                else:
                    pipe.hincrby(hkey, k, int(v))
            pipe.expire(hkey, ttl)
            if self.totals_key:
                for k, v in counts.items():
                    field = f"{k}|{account_id}|{name}"
                    if k in ("dsum", "isum"):
                        pipe.hincrbyfloat(self.totals_key, field, v)
                    else:
                        pipe.hincrby(self.totals_key, field, int(v))
            akey = account_key(account_id, minute)
            if counts.get("inv"):
                pipe.hincrby(akey, f"{name}|inv", int(counts["inv"]))
            if counts.get("err"):
                pipe.hincrby(akey, f"{name}|err", int(counts["err"]))
            pipe.expire(akey, ttl)
        for (account_id, name, minute), n in peaks.items():
            hkey = fn_key(account_id, name, minute)
            pipe.hset(hkey, f"c:{self.token}", n)
            pipe.expire(hkey, ttl)
        try:
            pipe.execute()
        except Exception:
            with self._lock:  # put them back for the next flush
                for minute_key, counts in pending.items():
                    slot = self._pending.setdefault(minute_key, defaultdict(float))
                    for f, v in counts.items():
                        slot[f] += v
                for version_slot, counts in versions.items():
                    vslot = self._versions.setdefault(version_slot, defaultdict(float))
                    for f, v in counts.items():
                        vslot[f] += v
                for usage_key, counts in usage.items():
                    uslot = self._usage.setdefault(usage_key, defaultdict(float))
                    for f, v in counts.items():
                        uslot[f] += v
                self._arm()
            raise

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        try:
            self.flush()
        except Exception:
            log.warning("cannot write invocation metrics to Redis", exc_info=True)


# -- reading the stored series (any process)


@dataclass(frozen=True)
class Series:
    start: int  # epoch seconds of the first point
    period: int  # seconds per point
    timestamps: list[int]
    invocations: list[int]
    errors: list[int]
    throttles: list[int]
    cold_starts: list[int]
    concurrency: list[int]
    duration_avg: list[float | None]
    duration_p50: list[float | None]
    duration_p90: list[float | None]
    duration_p99: list[float | None]
    init_duration_avg: list[float | None]
    errors_by_type: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def choose_period(seconds: int) -> int:
    """The smallest point width that keeps a window of ``seconds`` under ~360 points."""
    for p in PERIODS:
        if seconds / p <= 360:
            return p
    return PERIODS[-1]


def read_series(
    redis_client: Any, account_id: str, name: str, start: int, end: int, period: int | None = None
) -> Series:
    """Aggregate the stored minutes of ``[start, end)`` (epoch seconds) into points of ``period`` seconds."""
    period = period or choose_period(max(60, end - start))
    period = max(60, period - period % 60)
    first = start // period * period
    points = max(1, -(-(end - first) // period))
    minutes = [m for m in range(first // 60, (first + points * period) // 60)]
    pipe = redis_client.pipeline(transaction=False)
    for m in minutes:
        pipe.hgetall(fn_key(account_id, name, m))
    raw = pipe.execute()
    agg: list[dict[str, float]] = [defaultdict(float) for _ in range(points)]
    conc = [0] * points
    by_type: dict[str, int] = defaultdict(int)
    for m, doc in zip(minutes, raw, strict=True):
        if not doc:
            continue
        i = (m * 60 - first) // period
        minute_conc = 0
        for k, v in doc.items():
            k = k.decode() if isinstance(k, bytes) else k
            if k.startswith("c:"):
                minute_conc += int(v)
            else:
                agg[i][k] += float(v)
                if k.startswith("e:"):
                    by_type[k[2:]] += int(float(v))
        conc[i] = max(conc[i], minute_conc)

    def pct(a: dict[str, float], q: float) -> float | None:
        return _percentile([a.get(f"b{j}", 0.0) for j in range(len(DURATION_BUCKETS_MS) + 1)], q)

    return Series(
        start=first,
        period=period,
        timestamps=[first + i * period for i in range(points)],
        invocations=[int(a.get("inv", 0)) for a in agg],
        errors=[int(a.get("err", 0)) for a in agg],
        throttles=[int(a.get("thr", 0)) for a in agg],
        cold_starts=[int(a.get("cold", 0)) for a in agg],
        concurrency=conc,
        duration_avg=[round(a["dsum"] / a["dcnt"], 2) if a.get("dcnt") else None for a in agg],
        duration_p50=[pct(a, 0.5) for a in agg],
        duration_p90=[pct(a, 0.9) for a in agg],
        duration_p99=[pct(a, 0.99) for a in agg],
        init_duration_avg=[round(a["isum"] / a["icnt"], 2) if a.get("icnt") else None for a in agg],
        errors_by_type=dict(by_type),
    )


def _percentile(buckets: list[float], q: float) -> float | None:
    """The q-quantile of a histogram over DURATION_BUCKETS_MS, interpolated linearly within its bucket."""
    total = sum(buckets)
    if not total:
        return None
    rank = q * total
    seen = 0.0
    for j, n in enumerate(buckets):
        if n and seen + n >= rank:
            lo = DURATION_BUCKETS_MS[j - 1] if j > 0 else 0.0
            hi = DURATION_BUCKETS_MS[j] if j < len(DURATION_BUCKETS_MS) else DURATION_BUCKETS_MS[-1]
            return round(lo + (hi - lo) * (rank - seen) / n, 2)
        seen += n
    return float(DURATION_BUCKETS_MS[-1])


def last_hour(
    redis_client: Any, account_id: str, names: Iterable[str], now: float | None = None
) -> dict[str, dict[str, int]]:
    """Invocations and errors of each function in the last 60 minutes: ``{name: {"invocations", "errors"}}``."""
    names = list(names)
    out = {n: {"invocations": 0, "errors": 0} for n in names}
    if not names:
        return out
    current = int((now if now is not None else time.time()) // 60)
    pipe = redis_client.pipeline(transaction=False)
    for m in range(current - 59, current + 1):
        pipe.hgetall(account_key(account_id, m))
    for doc in pipe.execute():
        for k, v in (doc or {}).items():
            k = k.decode() if isinstance(k, bytes) else k
            fn, _, what = k.rpartition("|")
            if fn in out:
                out[fn]["invocations" if what == "inv" else "errors"] += int(v)
    return out


# -- asynchronous invocation queue (read at scrape time)

ASYNC_QUEUE = "rq:queue:lamina"  # RQ's list of ready jobs of lamina.services.events.events.QUEUE_NAME
ASYNC_DELAYED = "lamina:ev-delayed"  # lamina.services.events.events.keys.DELAYED
ASYNC_RUNNING = "lamina:ev-running"  # lamina.services.events.events.keys.RUNNING


def async_queue(redis_client: Any, now: float | None = None) -> dict[str, float]:
    """Depth of the async event queue (ready, delayed for a retry, running) and the age in seconds of its oldest
    ready job (0 when empty): three commands and one lookup in one pipeline."""
    pipe = redis_client.pipeline(transaction=False)
    pipe.llen(ASYNC_QUEUE)
    pipe.zcard(ASYNC_DELAYED)
    pipe.zcard(ASYNC_RUNNING)
    pipe.lindex(ASYNC_QUEUE, 0)
    ready, delayed, running, head = pipe.execute()
    age = 0.0
    if head:
        job = head.decode() if isinstance(head, bytes) else str(head)
        raw = redis_client.hget(f"rq:job:{job}", "enqueued_at")
        if raw:
            from datetime import UTC, datetime

            try:
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                at = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if at.tzinfo is None:
                    at = at.replace(tzinfo=UTC)
                age = max(0.0, (now if now is not None else time.time()) - at.timestamp())
            except ValueError:
                age = 0.0
    return {"ready": float(ready), "delayed": float(delayed), "running": float(running), "oldest_age_s": age}


# -- the workers' running totals, as Prometheus text (read by the API's /metrics)


def _exposition(families: list[Any]) -> bytes:
    """Prometheus text of metric families built at scrape time (from Redis, not prometheus-client values)."""
    from prometheus_client import CollectorRegistry, generate_latest

    class _Collector:
        def collect(self) -> Iterable[Any]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return bytes(generate_latest(registry))



def worker_totals_text(redis_client: Any) -> bytes:
    """The ``lamina_worker_*`` metric families from ``WORKER_TOTALS`` (empty when no worker ran)."""
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    totals: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for field, value in (redis_client.hgetall(WORKER_TOTALS) or {}).items():
        field = field.decode() if isinstance(field, bytes) else field
        kind, _, rest = field.partition("|")
        account, _, function = rest.partition("|")
        totals[(account, function)][kind] = float(value)
    if not totals:
        return b""
    labels = ["account", "function"]
    invocations = CounterMetricFamily("lamina_worker_invocations", "Invocations run by lamina workers "
                                      "(asynchronous, scheduled, queue-fed)", labels=[*labels, "start"])
    errors = CounterMetricFamily("lamina_worker_errors", "Worker invocations that ended in an error",
                                 labels=[*labels, "error_type"])
    throttles = CounterMetricFamily("lamina_worker_throttles", "Worker invocations refused for lack of "
                                    "concurrency", labels=labels)
    duration = HistogramMetricFamily("lamina_worker_duration_seconds", "Worker invoke duration", labels=labels)
    init = HistogramMetricFamily("lamina_worker_init_duration_seconds", "Init duration of worker cold starts",
                                 labels=labels)

    def buckets(counts: dict[str, float], prefix: str) -> list[tuple[str, float]]:
        out, running = [], 0.0
        for i, bound in enumerate(DURATION_BUCKETS_MS):
            running += counts.get(f"{prefix}{i}", 0)
            out.append((repr(bound / 1000), running))
        out.append(("+Inf", running + counts.get(f"{prefix}{len(DURATION_BUCKETS_MS)}", 0)))
        return out

    for (account, function), counts in sorted(totals.items()):
        key = [account, function]
        invocations.add_metric([*key, "cold"], counts.get("cold", 0))
        invocations.add_metric([*key, "warm"], counts.get("warm", 0))
        throttles.add_metric(key, counts.get("thr", 0))
        for kind, n in counts.items():
            if kind.startswith("e:"):
                errors.add_metric([*key, kind[2:]], n)
        duration.add_metric(key, buckets(counts, "b"), counts.get("dsum", 0) / 1000)
        init.add_metric(key, buckets(counts, "ib"), counts.get("isum", 0) / 1000)

    return _exposition([invocations, errors, throttles, duration, init])


def provisioned_text(redis_client: Any) -> bytes:
    """Provisioned concurrency at scrape time: per configuration its allocated and busy environments
    (utilization is busy / allocated), per function its invocations on them and those that spilled over."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from lamina.scheduler import keys, provisioned

    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    allocated = GaugeMetricFamily("lamina_provisioned_concurrency_allocated",
                                  "Environments initialized for a provisioned concurrency configuration",
                                  labels=["account", "function", "qualifier"])
    busy = GaugeMetricFamily("lamina_provisioned_concurrency_busy", "Of those, the ones running an invocation now",
                             labels=["account", "function", "qualifier"])
    invocations = CounterMetricFamily("lamina_provisioned_invocations",
                                      "Invocations of qualifiers with provisioned concurrency, by where they ran",
                                      labels=["account", "function", "on"])
    prefix = keys.provisioned_envs("", "", "").split("::")[0] + ":"
    found = False
    for raw in redis_client.scan_iter(match=prefix + "*", count=500):
        key = text(raw)
        rest = key[len(prefix):]
        if rest.startswith(("failed:", "lock:", "counts:")):
            if rest.startswith("counts:"):
                account, _, function = rest[len("counts:"):].partition(":")
                on_pc, spill = provisioned.invocation_counts(redis_client, account, function)
                invocations.add_metric([account, function, "provisioned"], on_pc)
                invocations.add_metric([account, function, "spillover"], spill)
                found = True
            continue
        account, function, qualifier = (rest.split(":", 2) + ["", ""])[:3]
        got = provisioned.counts(redis_client, account, function, qualifier)
        allocated.add_metric([account, function, qualifier], got.allocated)
        busy.add_metric([account, function, qualifier], got.busy)
        found = True
    if not found:
        return b""

    return _exposition([allocated, busy, invocations])


# -- tenants and recursive loops (running totals in Redis, any process)


def recursion_dropped(redis_client: Any, account_id: str, function_name: str) -> None:
    """Count one invocation stopped as a recursive loop (Lambda's RecursiveInvocationsDropped)."""
    redis_client.hincrby(RECURSION_DROPS, f"{account_id}|{function_name}", 1)


def tenant_totals(redis_client: Any, account_id: str, function_name: str) -> dict[str, dict[str, int]]:
    """Per tenant of a function: {"Invocations": n, "Errors": n}."""
    out: dict[str, dict[str, int]] = {}
    prefix = f"{account_id}|{function_name}|"
    for field, value in (redis_client.hgetall(TENANT_TOTALS) or {}).items():
        field = field.decode() if isinstance(field, bytes) else field
        if not field.startswith(prefix):
            continue
        tenant, _, kind = field[len(prefix):].rpartition("|")
        slot = out.setdefault(tenant, {"Invocations": 0, "Errors": 0})
        slot["Invocations" if kind == "inv" else "Errors"] += int(value)
    return out


def tenants_text(redis_client: Any) -> bytes:
    """``lamina_tenant_invocations`` / ``lamina_tenant_errors`` and ``lamina_recursive_invocations_dropped``."""
    from prometheus_client.core import CounterMetricFamily

    invocations = CounterMetricFamily("lamina_tenant_invocations", "Invocations of PER_TENANT functions by tenant",
                                      labels=["account", "function", "tenant"])
    errors = CounterMetricFamily("lamina_tenant_errors", "Of those, the ones that ended in an error",
                                 labels=["account", "function", "tenant"])
    dropped = CounterMetricFamily("lamina_recursive_invocations_dropped",
                                  "Invocations not run: one too many of a chain of events (a recursive loop)",
                                  labels=["account", "function"])
    found = False
    for field, value in (redis_client.hgetall(TENANT_TOTALS) or {}).items():
        field = field.decode() if isinstance(field, bytes) else field
        account, _, rest = field.partition("|")
        function, _, rest = rest.partition("|")
        tenant, _, kind = rest.rpartition("|")
        (invocations if kind == "inv" else errors).add_metric([account, function, tenant], float(value))
        found = True
    for field, value in (redis_client.hgetall(RECURSION_DROPS) or {}).items():
        field = field.decode() if isinstance(field, bytes) else field
        account, _, function = field.partition("|")
        dropped.add_metric([account, function], float(value))
        found = True
    if not found:
        return b""

    return _exposition([invocations, errors, dropped])
