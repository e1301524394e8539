"""The schedule loop: fires due schedules as asynchronous events (see lamina.services.triggers.schedules).

``lamina worker`` runs ``run_due`` on its ticker; another process (``lamina scheduler``) may run
``loop`` on a thread as well: every due time still fires exactly once.
"""

from __future__ import annotations

import logging
import threading
import time

from lamina.services.triggers import schedules
from lamina.wiring import Components

log = logging.getLogger(__name__)


def run_due(components: Components, now: float) -> list[str]:
    """Fire the schedules due at ``now``; return the request ids of the events fired by this call."""
    fired = schedules.fire_due(components, components.queue, now)
    if fired:
        log.info("schedules: fired %d event(s)", len(fired))
    return fired


def loop(components: Components, stop: threading.Event, interval_s: float | None = None) -> None:
    """Call ``run_due`` every ``interval_s`` (settings.trigger_tick_s) until ``stop`` is set."""
    every = components.settings.trigger_tick_s if interval_s is None else interval_s
    while not stop.is_set():
        try:
            run_due(components, time.time())
        except Exception:
            log.exception("schedule loop failed; retrying")
        stop.wait(every)
