"""Event source pollers of a worker process.

The mapping list (and each stream's shards) is re-read from the database every ``REFRESH_S``. The
units of work are a queue mapping's slots (one, or ScalingConfig.MaximumConcurrency batches in flight)
and a stream mapping's shards (one round at a time each); each poll runs on a thread pool, so a slow
function holds up only its own unit. Every worker process polls every mapping: a queue's visibility
timeout keeps two pollers from taking the same messages, and a shard's lease in Redis keeps two from
delivering the same shard.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from lamina.services.triggers import event_sources, stream_poller
from lamina.threads import BackgroundLoop
from lamina.worker.context import Runtime

log = logging.getLogger(__name__)

REFRESH_S = 1.0
THREADS = 16


class Pollers(BackgroundLoop):
    def __init__(self, runtime: Runtime, threads: int = THREADS) -> None:
        super().__init__("lamina-esm-poller")
        self.runtime = runtime
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lamina-esm")
        self.inflight: dict[tuple[str, str], Future[event_sources.PollResult]] = {}

    def stop(self) -> None:
        super().stop()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        comps = self.runtime.components
        units: list[tuple[event_sources.MappingRecord, str]] = []
        refreshed = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now - refreshed > REFRESH_S:
                try:
                    units = self._units(event_sources.enabled_mappings(comps))
                except Exception:
                    log.exception("cannot read event source mappings")
                refreshed = now
            for m, unit in units:
                running = self.inflight.get((m.uuid, unit))
                if running is not None and not running.done():
                    continue
                self.inflight[(m.uuid, unit)] = self.pool.submit(self._poll, m, unit)
            self.stop_event.wait(comps.settings.trigger_tick_s)

    def _units(self, mappings: list[event_sources.MappingRecord]) -> list[tuple[event_sources.MappingRecord, str]]:
        """(mapping, slot or shard id) pairs: what may be in flight at once."""
        units = []
        for m in mappings:
            if m.source_kind == "kinesis":
                units += [(m, shard) for shard in stream_poller.shard_ids(self.runtime.components, m)]
            else:
                units += [(m, f"slot-{i}") for i in range(m.options.maximum_concurrency or 1)]
        return units

    def _poll(self, mapping: event_sources.MappingRecord, unit: str) -> event_sources.PollResult:
        comps, invoker = self.runtime.components, self.runtime.invoker
        try:
            if mapping.source_kind == "kinesis":
                result = stream_poller.poll_shard(comps, invoker, mapping, unit)
            else:
                result = event_sources.poll(comps, invoker, mapping)
        except Exception:
            log.exception("event source mapping %s: poll failed", mapping.uuid)
            return event_sources.PollResult(0, 0, "error")
        if result.received and result.outcome not in ("success", "filtered"):
            log.info("event source mapping %s: %d message(s), %s", mapping.uuid, result.received, result.outcome)
        return result
