"""`lamina worker`: RQ workers for asynchronous invocations, plus the trigger loops.

Each worker process runs one ``LaminaWorker`` (an RQ ``SimpleWorker``: jobs run in the worker process
itself, so the invoker's warm connections and background container removals outlive a job) and, on
threads, the loops every worker shares: the event sweep (requeue events whose worker died, enqueue due
retries), the schedules, the event source pollers and the gradual deployments' steps. ``--processes N``
forks N such processes.

RQ's own scheduler is not used for retries: its lock passes to another worker only a minute after
the holder dies, and an event's delays and age need lamina's own bookkeeping anyway
(``lamina.services.events.events``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from rq import Queue, SimpleWorker

from lamina.config import Settings
from lamina.logs import bind_request_id, unbind_request_id
from lamina.services.events import events
from lamina.threads import BackgroundLoop
from lamina.wiring import Components, build_components
from lamina.worker import context

log = logging.getLogger(__name__)

QUEUE_NAMES = (events.QUEUE_NAME,)


class LaminaWorker(SimpleWorker):
    """A SimpleWorker that makes its ``context.Runtime`` available to the job being performed."""

    def __init__(self, queues: Any, *args: Any, runtime: context.Runtime, **kwargs: Any) -> None:
        super().__init__(queues, *args, **kwargs)
        self.runtime = runtime

    def execute_job(self, job: Any, queue: Any) -> Any:
        token = context.CURRENT.set(self.runtime)
        # Every log line of the job carries its id (an event's job id starts with its request id).
        log_token = bind_request_id(str(job.id))
        try:
            return super().execute_job(job, queue)
        finally:
            unbind_request_id(log_token)
            context.CURRENT.reset(token)


class Ticker(BackgroundLoop):
    """Runs each task every ``interval_s`` on one daemon thread until stopped; a failing task is logged."""

    def __init__(self, tasks: list[tuple[str, Callable[[], Any]]], interval_s: float) -> None:
        super().__init__("lamina-ticker")
        self.tasks = tasks
        self.interval_s = interval_s

    def _run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            for name, task in self.tasks:
                try:
                    task()
                except Exception:
                    log.exception("worker loop %s failed", name)
            self.stop_event.wait(max(0.0, self.interval_s - (time.monotonic() - started)))



def loops(runtime: context.Runtime) -> list[tuple[str, Callable[[], Any]]]:
    """The periodic tasks of a worker process (see the module docstring)."""
    comps = runtime.components
    tasks: list[tuple[str, Callable[[], Any]]] = [("events.sweep", lambda: events.sweep(comps, comps.queue))]
    try:
        from lamina.worker import schedules

        tasks.append(("schedules.run_due", lambda: schedules.run_due(comps, time.time())))
    except ImportError:
        pass
    from lamina.services.functions import deployments

    next_round = [0.0]

    def advance_deployments() -> None:
        if time.monotonic() >= next_round[0]:  # a database round trip: once a second, not every tick
            next_round[0] = time.monotonic() + deployments.ADVANCE_EVERY_S
            for done in deployments.advance_all(comps, time.time()):
                log.info("deployment %s", done)

    tasks.append(("deployments.advance_all", advance_deployments))
    return tasks


def make_worker(runtime: context.Runtime, name: str | None = None) -> LaminaWorker:
    comps = runtime.components
    # RQ's blocking dequeue on a client of its own, whose socket timeout outlasts the block (see
    # Components.worker_redis); jobs themselves use comps.redis.
    conn = comps.worker_redis
    queues = [Queue(n, connection=conn) for n in QUEUE_NAMES]
    return LaminaWorker(queues, connection=conn, name=name, runtime=runtime)


def run_worker(components: Components, burst: bool = False, triggers: bool = True) -> bool:
    """Work the queues (until they are empty with ``burst``); returns whether any job was performed."""
    runtime = context.make_runtime(components)
    ticker = Ticker(loops(runtime), components.settings.trigger_tick_s).start() if triggers else None
    pollers = None
    if triggers:
        try:
            from lamina.worker import event_sources

            pollers = event_sources.Pollers(runtime).start()
        except ImportError:
            pass
    try:
        # RQ logs four INFO lines per job; lamina logs what matters about events itself.
        return make_worker(runtime).work(burst=burst, with_scheduler=False, logging_level="WARNING")
    finally:
        if ticker is not None:
            ticker.stop()
        if pollers is not None:
            pollers.stop()
        runtime.close()


def _child(settings: Settings, burst: bool) -> None:
    run_worker(build_components(settings, migrate=False), burst=burst)


def run_processes(settings: Settings, processes: int, burst: bool = False) -> None:
    """Run ``processes`` worker processes (forked) until they stop; SIGTERM/SIGINT stop them all."""
    if processes <= 1:
        run_worker(build_components(settings), burst=burst)
        return
    from lamina.store import db

    if settings.migrate_on_start:
        db.upgrade(settings.effective_database_url)
    ctx = multiprocessing.get_context("fork")

    def spawn(i: int) -> multiprocessing.process.BaseProcess:
        child = ctx.Process(target=_child, args=(settings, burst), name=f"lamina-worker-{i}")
        child.start()
        return child

    children = [spawn(i) for i in range(processes)]
    stopping = False

    def _forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.pid and child.is_alive():
                try:
                    os.kill(child.pid, signum)
                except ProcessLookupError:
                    pass

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    # Keep ``processes`` workers: one that dies (SIGKILL, OOM, a crash) is replaced, the others go on;
    # its event, if it held one, comes back to another worker after its lease (services.events.events).
    done: set[int] = set()
    while len(done) < len(children):
        for i, child in enumerate(children):
            if i in done or child.is_alive():
                continue
            child.join()
            if stopping or (burst and child.exitcode == 0):
                done.add(i)
                continue
            log.warning("worker process %s exited with %s; starting another", child.pid, child.exitcode)
            time.sleep(0.5)  # a crash loop must not spin
            if not stopping:
                children[i] = spawn(i)
        time.sleep(0.2)
