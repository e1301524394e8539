"""Fixtures and helpers for asynchronous invocation and trigger tests (tests/worker, tests/api/test_{async,
schedules,queues,esm,urls}_*): real Docker, real RQ workers in the test process or as `lamina worker`
subprocesses, settings with tiny back-offs.

Import the fixtures a module needs: ``from support.triggers import docker_client, fns, ...  # noqa: F401``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from lamina.config import Settings
from lamina.executor.images import ensure_images
from lamina.services.events import events
from lamina.services.invoke.invocations import Invoker
from lamina.worker import context
from lamina.worker.main import LaminaWorker, make_worker

from support.functions import Functions

FAST = {
    "async_retry_delays_s": (0.3, 0.6),
    "async_throttle_delay_s": 0.2,
    "async_throttle_max_delay_s": 0.5,
    "async_lease_s": 1.5,
    "trigger_tick_s": 0.05,
    "schedule_min_rate_s": 1,
}

FAST_ENV = {
    "LAMINA_ASYNC_RETRY_DELAYS": "0.3,0.6",
    "LAMINA_ASYNC_THROTTLE_DELAY": "0.2",
    "LAMINA_ASYNC_THROTTLE_MAX_DELAY": "0.5",
    "LAMINA_ASYNC_LEASE": "1.5",
    "LAMINA_TRIGGER_TICK": "0.05",
    "LAMINA_SCHEDULE_MIN_RATE": "1",
}

LEAKED: list[str] = []


@pytest.fixture
def fast(components: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Shrink the back-offs, leases and ticks of this test's components (and of the app's invoker)."""
    fast_settings = components.settings.with_(**FAST)
    monkeypatch.setattr(components, "settings", fast_settings)
    return fast_settings


@pytest.fixture(scope="session")
def docker_client(settings: Settings) -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=300)
    yield client
    left = client.containers.list(all=True, filters={"label": f"lamina.instance={settings.instance}"})
    for c in left:
        c.remove(force=True)
    client.close()
    assert not LEAKED, f"containers leaked by the platform: {LEAKED}"


@pytest.fixture(scope="session")
def runtime_images(docker_client: docker.DockerClient, settings: Settings) -> dict[str, str]:
    return ensure_images(docker_client, settings, log=lambda msg: None)


def _clear_containers(invokers: list[Invoker], docker_client: docker.DockerClient, settings: Settings) -> None:
    for inv in invokers:
        inv.close()
    for c in docker_client.containers.list(all=True, filters={"label": f"lamina.instance={settings.instance}"}):
        c.remove(force=True)


@pytest.fixture
def invoker(app: Any, runtime_images: dict[str, str], docker_client: docker.DockerClient,
            settings: Settings) -> Iterator[Invoker]:
    """The app's invoker; afterwards every container of this session is removed."""
    inv: Invoker = app.extensions["lamina.invoker"]
    yield inv
    _clear_containers([inv], docker_client, settings)


@pytest.fixture
def fns(client: Any, components: Any, invoker: Invoker) -> Functions:
    return Functions(client, components, invoker)


@pytest.fixture
def runtime(components: Any, invoker: Invoker, docker_client: docker.DockerClient,
            settings: Settings) -> Iterator[context.Runtime]:
    """A worker Runtime (its own invoker, as a worker process has) on the test's components."""
    rt = context.make_runtime(components)
    yield rt
    rt.close()


@pytest.fixture
def work(runtime: context.Runtime, components: Any) -> Callable[..., int]:
    """work(until=..., limit_s=...) runs a burst worker, sweeping, until ``until()`` holds; returns jobs run.
    ``one_by_one``: a job per burst, for queues that never empty (a chain of events feeding itself)."""

    def run(until: Callable[[], Any] | None = None, limit_s: float = 30.0, one_by_one: bool = False) -> int:
        worker: LaminaWorker = make_worker(runtime)
        jobs = 0
        end = time.monotonic() + limit_s
        while True:
            events.sweep(components, components.queue)
            if worker.work(burst=True, with_scheduler=False, max_jobs=1 if one_by_one else None):
                jobs += 1
            if until is None:
                if not components.redis.zcard(events.keys.DELAYED) and not len(components.queue):
                    return jobs
            elif until():
                return jobs
            if time.monotonic() > end:
                raise AssertionError("worker did not reach the expected state in time")
            time.sleep(0.02)

    return run


def wait_for(predicate: Callable[[], Any], limit: float = 10.0, every: float = 0.02) -> Any:
    end = time.monotonic() + limit
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(every)


class WorkerProcess:
    """`lamina worker` as a subprocess in its own process group (so a kill takes its children too)."""

    def __init__(self, settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        env = dict(os.environ)
        env.update({
            "LAMINA_DATA_DIR": str(settings.data_dir),
            "LAMINA_DATABASE_URL": str(settings.database_url),
            "LAMINA_REDIS_URL": str(settings.redis_url),
            "LAMINA_INSTANCE": settings.instance,
            "LAMINA_MIGRATE_ON_START": "false",
            **FAST_ENV,
            **(extra_env or {}),
        })
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lamina", "worker", *args], env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def worker_processes(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> WorkerProcess:
        wp = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log", extra_env, args)
        started.append(wp)
        return wp

    yield start
    for wp in started:
        wp.stop()
