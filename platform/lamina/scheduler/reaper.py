"""The reaper: freezes idle environments, reaps them after the idle timeout, drains stale revisions,
collects environments whose API process died, adopts or removes containers after a restart, and now
and then deletes extracted code (``LAMINA_DATA_DIR/tasks``, ``opt``) that nothing uses any more.

Decisions come from ``placement.plan_idle`` on a snapshot; each is applied through a compare-and-set
script of ``pool.py``, so an environment acquired between the snapshot and the action is left alone.
Docker calls happen here, in the scheduler process, never on an invoke.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path

from lamina.executor import code
from lamina.executor.docker_env import (
    LABEL_CREATED,
    LABEL_ENV,
    LABEL_ROLE,
    SANDBOX_ROLE,
    SOCKET_DIRS,
    DockerEnv,
    ExecutorError,
)
from lamina.scheduler import keys
from lamina.scheduler.cells import CELL_DIRS, CELL_ROLE
from lamina.scheduler.init_boost import end_init_boost
from lamina.scheduler.placement import plan_idle
from lamina.scheduler.pool import Pool
from lamina.scheduler.sandboxes import replenish
from lamina.scheduler.states import ContainerState

log = logging.getLogger(__name__)

# A sandbox this young may be between its start and its listing in Redis (a start takes well under a second;
# this allows for a loaded engine). With a sweep every SWEEP_EVERY_S, a sandbox whose creator died is
# removed within SANDBOX_GRACE_S + SWEEP_EVERY_S of its start: within a minute.
SANDBOX_GRACE_S = 20.0
SWEEP_EVERY_S = 30.0
CODE_GRACE_S = 600.0  # extracted code this young is kept: a cold start may be about to mount it
# An environment with extensions is stopped before removal: SIGTERM, their SHUTDOWN (2 s), then SIGKILL.
EXTENSIONS_STOP_S = 3

# () -> (code keys, layer digests) that function versions use; the composition root reads PostgreSQL.
CodeInUse = Callable[[], tuple[Set[str], Set[str]]]


@dataclass
class TickReport:
    frozen: list[str] = field(default_factory=list)
    reaped: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)  # code directories deleted (relative to data_dir)
    unboosted: list[str] = field(default_factory=list)  # containers whose init boost ran out


@dataclass
class SweepReport:
    adopted: list[str] = field(default_factory=list)  # environment ids kept
    removed: list[str] = field(default_factory=list)  # container ids removed
    forgotten: list[str] = field(default_factory=list)  # environment ids dropped from Redis


@dataclass
class Reaper:
    pool: Pool
    docker: DockerEnv
    instance: str
    freeze_after_s: float = 10.0
    idle_timeout_s: float = 600.0
    clock: Callable[[], float] = time.time
    # Network sandboxes to keep ready for cold starts (0: leave that to the API processes).
    sandboxes: int = 0
    sandbox_image: str = ""
    network: str = "lamina"
    # Extracted code collection (off without ``code_in_use``): at most once per ``collect_every_s``.
    data_dir: Path | None = None
    code_in_use: CodeInUse | None = None
    collect_every_s: float = 600.0
    code_grace_s: float = CODE_GRACE_S
    # Stem cells (lamina.scheduler.cells): refill and trim every pool each round (an Environments'
    # ``maintain_cells``); None leaves that to the API processes' cold starts.
    maintain_cells: Callable[[], object] | None = None
    # Provisioned concurrency (lamina.scheduler.provisioned): bring every configuration to its count,
    # replacing environments that died (``Invoker.provision`` over every configuration).
    maintain_provisioned: Callable[[], object] | None = None
    _next_collect: float = field(default=0.0, repr=False)

    def tick(self) -> TickReport:
        """Apply one round of freeze / reap / retire / expire decisions; return what was done."""
        now = self.clock()
        snapshot = self.pool.snapshot()
        plan = plan_idle(snapshot, now, self.freeze_after_s, self.idle_timeout_s)
        with_extensions = {e.env_id for e in snapshot.envs if e.extensions}
        report = TickReport()
        for env_id in plan.freeze:
            cid = self.pool.begin_freeze(env_id, now, self.freeze_after_s)
            if not cid:
                continue
            try:
                self.docker.pause(cid)
            except ExecutorError as err:
                log.warning("cannot freeze environment %s: %s; removing it", env_id, err)
                self._remove(*(self.pool.discard(env_id) or [cid]))
                continue
            if self.pool.end_freeze(env_id):
                report.frozen.append(env_id)
        for mode, ids, limit, out in (
            ("idle", plan.reap, self.idle_timeout_s, report.reaped),
            ("retire", plan.retire, 0.0, report.retired),
            ("expired", plan.expired, 0.0, report.expired),
        ):
            for env_id in ids:
                removed = self.pool.reap_if(env_id, now, mode, limit)
                if removed is None:
                    continue
                out.append(env_id)
                if env_id in with_extensions and removed:  # SIGTERM first: its extensions get SHUTDOWN (Lambda's 2 s)
                    self.docker.stop(removed[0], EXTENSIONS_STOP_S)
                if mode == "expired":  # it may never have recorded its container: find it by label
                    self._remove(*(c.container_id for c in
                                   self.docker.list_managed(self.instance, [f"{LABEL_ENV}={env_id}"])))
                self._remove(*removed)
        for cid in self.pool.boosts_due(now):  # its API process never saw the first invoke answer
            try:
                if end_init_boost(self.pool, self.docker, cid):
                    report.unboosted.append(cid)
            except ExecutorError as err:  # gone meanwhile
                log.debug("cannot end the init boost of %s: %s", cid[:12], err)
        if self.sandboxes:
            replenish(self.pool, self.docker, self.sandbox_image, self.network, self.instance, self.sandboxes)
        if self.maintain_cells is not None:
            self.maintain_cells()
        if self.maintain_provisioned is not None:
            self.maintain_provisioned()
        if self.code_in_use is not None and now >= self._next_collect:
            self._next_collect = now + self.collect_every_s
            report.collected = self.collect_code()
        if any((report.frozen, report.reaped, report.retired, report.expired)):
            log.info("reaper: froze %d, reaped %d, retired %d, expired %d", len(report.frozen),
                     len(report.reaped), len(report.retired), len(report.expired))
        return report

    def collect_code(self) -> list[str]:
        """Delete extracted code no function version uses and no container mounts; return what went.

        Any environment's container (of any lamina instance on this Docker engine) keeps what it mounts,
        so a deleted version's environments that still drain keep their code until they are gone.
        """
        if self.code_in_use is None or self.data_dir is None:
            return []
        mounted = {m for c in self.docker.list_managed() for m in c.mounts}
        tasks, opts = self.code_in_use()
        removed = code.remove_unused(self.data_dir, tasks, opts, mounted, self.clock() - self.code_grace_s)
        if removed:
            log.info("reaper: deleted %d unused code directories", len(removed))
            if self.pool.node:  # placement must not count on code this host no longer holds
                gone = [path.split("/", 1)[1] for path in removed if path.startswith("tasks/")]
                if gone:
                    self.pool.redis.srem(keys.node_code(self.pool.node), *gone)
        return removed

    def sweep(self) -> SweepReport:
        """Reconcile Docker with Redis: adopt containers Redis knows, remove the others, and forget
        environments whose container is gone. Run at start (after a restart) and now and then."""
        report = SweepReport()
        # An environment is recorded before its container is created, and its container id only after:
        # so judge containers against a snapshot taken after listing them, and missing containers
        # against one taken before (either order alone races with a cold start).
        before = {e.env_id: e for e in self.pool.snapshot().envs}
        containers = self.docker.list_managed(self.instance)
        # The free list before the snapshot: a cold start pops a sandbox and records it on its environment in
        # one script, so every sandbox is then in one of the two (read the other way round, a sandbox taken
        # between them is in neither and would be removed under its cold start).
        free = {cid for cid, _ip in self.pool.free_sandboxes()}
        free_cells = {cid for _cell, cid, _ip in self.pool.free_cells()}  # (a take records it on its env)
        snapshot = {e.env_id: e for e in self.pool.snapshot().envs}
        seen: set[str] = set()
        in_use = {e.sandbox_id for e in (*before.values(), *snapshot.values()) if e.sandbox_id}
        claimed = {e.container_id: e.env_id for e in snapshot.values() if e.container_id}
        young = self.clock() - SANDBOX_GRACE_S
        cells_seen: set[str] = set()
        for c in containers:
            role = c.labels.get(LABEL_ROLE)
            if role == CELL_ROLE and c.container_id not in claimed:
                # A free cell, or one so new that its creator has not listed it yet: keep; else it is lost.
                created = float(c.labels.get(LABEL_CREATED) or 0)
                if c.container_id in free_cells or created > young:
                    cells_seen.add(c.labels.get(LABEL_ENV, ""))
                    continue
                self._remove(c.container_id)
                report.removed.append(c.container_id)
                continue
            if role == SANDBOX_ROLE:
                # Free, in use, or so new that its creator has not listed it yet: keep; else it is lost.
                created = float(c.labels.get(LABEL_CREATED) or 0)
                if c.container_id in free or c.container_id in in_use or created > young:
                    continue
                self._remove(c.container_id)
                report.removed.append(c.container_id)
                continue
            if role == CELL_ROLE:
                cells_seen.add(c.labels.get(LABEL_ENV, ""))
            env_id = claimed[c.container_id] if role == CELL_ROLE else c.labels.get(LABEL_ENV, "")
            view = snapshot.get(env_id)
            if view is None or (view.container_id and view.container_id != c.container_id):
                # Redis does not know it (lost state, or a start that was given up): nobody can use it.
                self._remove(c.container_id)
                report.removed.append(c.container_id)
                continue
            seen.add(env_id)
            if c.status in ("exited", "dead") or (c.status == "created" and view.state is not ContainerState.STARTING):
                self._remove(*(self.pool.discard(env_id) or [c.container_id]))
                report.removed.append(c.container_id)
                report.forgotten.append(env_id)
            else:
                report.adopted.append(env_id)
        for env_id, view in before.items():
            if env_id in seen or view.state is ContainerState.STARTING:
                continue  # a STARTING environment may not have its container yet; its lease covers it
            if view.container_id:
                removed = self.pool.reap_if(env_id, self.clock(), "any")
                if removed is not None:
                    self._remove(*removed)  # its sandbox, if any
                    report.forgotten.append(env_id)
        self._sweep_socket_dirs({*before, *snapshot})
        self._sweep_cell_dirs(cells_seen)
        if report.removed or report.forgotten:
            log.info("sweep: adopted %d, removed %d containers, forgot %d environments",
                     len(report.adopted), len(report.removed), len(report.forgotten))
        return report

    def run(self, stop: threading.Event, interval_s: float = 1.0, sweep_every_s: float = SWEEP_EVERY_S) -> None:
        """Sweep once (adoption after a restart), then tick every ``interval_s`` until ``stop`` is set."""
        self.sweep()
        next_sweep = time.monotonic() + sweep_every_s
        while not stop.is_set():
            try:
                self.tick()
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + sweep_every_s
            except Exception:  # noqa: BLE001 - a failed round must not stop the reaper; log and retry
                log.exception("reaper round failed")
            stop.wait(interval_s)

    def _sweep_socket_dirs(self, known: set[str]) -> None:
        """Delete the socket directories of network-less environments the pool no longer knows."""
        self._sweep_dirs(SOCKET_DIRS, known | {e.env_id for e in self.pool.snapshot().envs})

    def _sweep_cell_dirs(self, alive: set[str]) -> None:
        """Delete the directories of stem cells whose container is gone."""
        self._sweep_dirs(CELL_DIRS, alive)

    def _sweep_dirs(self, folder: str, keep: set[str]) -> None:
        """Delete the directories under ``data_dir/folder`` not named in ``keep``, unless very new (made by a
        cold start or a cell's creation that began after the snapshots ``keep`` was read from)."""
        root = self.data_dir / folder if self.data_dir is not None else None
        if root is None or not root.is_dir():
            return
        young = self.clock() - SANDBOX_GRACE_S
        for path in root.iterdir():
            try:
                stale = path.name not in keep and path.stat().st_mtime < young
            except OSError:
                continue
            if stale:
                shutil.rmtree(path, ignore_errors=True)

    def _remove(self, *container_ids: str) -> None:
        for cid in container_ids:
            if not cid:
                continue
            try:
                self.docker.remove(cid)
            except ExecutorError as err:
                log.warning("%s", err)
