"""`lamina worker`: an RQ worker for asynchronous invocations, schedules and event sources."""

from __future__ import annotations

from rq import Queue, Worker

from lamina.wiring import Components

QUEUE_NAMES = ("lamina",)


def run_worker(components: Components, burst: bool = False) -> bool:
    queues = [Queue(name, connection=components.redis) for name in QUEUE_NAMES]
    worker = Worker(queues, connection=components.redis, name=None)
    return worker.work(burst=burst, with_scheduler=True)
