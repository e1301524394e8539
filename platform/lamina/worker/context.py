"""The worker process's collaborators, handed to job functions while a job runs.

RQ calls a job function by dotted path with the job's arguments only; ``LaminaWorker`` sets
``CURRENT`` around each job so the function can reach the components and invoker the entry point
built (no module-level connections: the composition root still builds everything).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from lamina.services.events.events import LeaseKeeper
from lamina.services.invoke import metrics
from lamina.services.invoke.invocations import Invoker
from lamina.wiring import Components


@dataclass
class Runtime:
    components: Components
    invoker: Invoker
    leases: LeaseKeeper | None = None

    def close(self) -> None:
        if self.leases is not None:
            self.leases.stop()
        self.invoker.close()

    @property
    def queue(self) -> Any:
        return self.components.queue


CURRENT: ContextVar[Runtime] = ContextVar("lamina_worker_runtime")


def current() -> Runtime:
    """The Runtime of the job being performed; LookupError outside a LaminaWorker job."""
    return CURRENT.get()


def make_runtime(components: Components) -> Runtime:
    invoker = Invoker(
        settings=components.settings,
        redis_client=components.redis,
        sessions=components.sessions,
        blob_path=components.code_store.path,
        docker_client=lambda: components.docker,
        # The API's /metrics reads workers' totals from Redis: workers need not share its process or host.
        metrics_totals_key=metrics.WORKER_TOTALS,
    )
    leases = LeaseKeeper(components.redis, components.settings.async_lease_s).start()
    return Runtime(components=components, invoker=invoker, leases=leases)
