"""RQ jobs. Each takes ids and plain values and is idempotent on them (see lamina.services.events.events)."""

from __future__ import annotations

from lamina.services.events import events
from lamina.worker.context import current


def invoke_async(request_id: str, gen: int) -> str:
    """Run asynchronous event ``request_id`` for its ``gen``-th queueing; a duplicate job does nothing."""
    rt = current()
    return events.run(rt.components, rt.queue, rt.invoker, request_id, gen, leases=rt.leases)
