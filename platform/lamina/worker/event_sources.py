"""Event source pollers of a worker process: one batch in flight per enabled mapping at a time.

The mapping list is re-read from the database every ``REFRESH_S``; each poll runs on a small thread
pool, so a slow function holds up only its own mapping. Every worker process polls every mapping:
the queue's visibility timeout keeps two pollers from taking the same messages.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from lamina.services.triggers import event_sources
from lamina.threads import BackgroundLoop
from lamina.worker.context import Runtime

log = logging.getLogger(__name__)

REFRESH_S = 1.0
THREADS = 8


class Pollers(BackgroundLoop):
    def __init__(self, runtime: Runtime, threads: int = THREADS) -> None:
        super().__init__("lamina-esm-poller")
        self.runtime = runtime
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lamina-esm")
        self.inflight: dict[str, Future[event_sources.PollResult]] = {}

    def stop(self) -> None:
        super().stop()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        comps = self.runtime.components
        mappings: list[event_sources.MappingRecord] = []
        refreshed = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now - refreshed > REFRESH_S:
                try:
                    mappings = event_sources.enabled_mappings(comps)
                except Exception:
                    log.exception("cannot read event source mappings")
                refreshed = now
            for m in mappings:
                running = self.inflight.get(m.uuid)
                if running is not None and not running.done():
                    continue
                self.inflight[m.uuid] = self.pool.submit(self._poll, m)
            self.stop_event.wait(comps.settings.trigger_tick_s)

    def _poll(self, mapping: event_sources.MappingRecord) -> event_sources.PollResult:
        try:
            result = event_sources.poll(self.runtime.components, self.runtime.invoker, mapping)
        except Exception:
            log.exception("event source mapping %s: poll failed", mapping.uuid)
            return event_sources.PollResult(0, 0, "error")
        if result.received and result.outcome != "success":
            log.info("event source mapping %s: %d message(s), %s", mapping.uuid, result.received, result.outcome)
        return result
