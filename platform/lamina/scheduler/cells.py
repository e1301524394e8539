"""Stem cells: pre-started, function-less environments of a runtime family, claimed by cold starts.

A cell is a container of the family's image whose agent waits for a function (``LAMINA_CELL=1``): its
own network namespace on lamina's bridge, ``/var/task`` and ``/opt`` bind-mounted (read-only) from empty
directories of its own, the init boost's CPU, the agent's memory only. A cold start of an eligible
function takes one (``Pool.take_cell``, atomic with the environment's record) and claims it: the
function's code and layers are hard-linked into the cell's directories, the memory limit is set, and the
agent gets the function's environment (variables, role credentials) and starts the runtime. No Docker
create or start is on the critical path.

Each family's pool is sized by its cold starts of the last minute (at least CELL_MIN while the family had
one in the last ten minutes, none after), at most ``Settings.stem_cells`` per family and
``Settings.stem_cell_budget_mb`` of host memory in all; the reaper and the API processes refill it in the
background. Not eligible, and started the ordinary way (they pay Docker's create and start): container
images, functions with a VpcConfig, under gVisor, with EphemeralStorage other than 512 MB, or pinned to
an older runtime image.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lamina import runtimes
from lamina.executor import code
from lamina.executor.agent_client import claim_cell
from lamina.executor.docker_env import (
    AGENT_MEMORY_MB,
    AGENT_PORT,
    BOOST_NANO_CPUS,
    LABEL_CREATED,
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_ROLE,
    PIDS_LIMIT,
    ContainerSpec,
    ExecutorError,
)

if TYPE_CHECKING:
    from lamina.scheduler.environments import Environments

log = logging.getLogger(__name__)

CELL_ROLE = "cell"
CELL_DIRS = "cells"  # under the data directory: one directory per cell (task/ and opt/)
CELL_TMP_MB = 512  # Lambda's default EphemeralStorage: a cell's /tmp is made at creation
CELL_MEMORY_MB = 128  # a cell is made for Lambda's default MemorySize (the agent's 16 MiB come on top)
CELL_MIN = 2
DEMAND_WINDOW_S = 60.0
IDLE_FAMILY_S = 600.0
CLAIM_TIMEOUT_S = 5.0


class CellLost(Exception):
    """The cell a cold start took could not be claimed (it is being removed)."""


def cell_dir(data_dir: Path, cell_id: str) -> Path:
    return data_dir / CELL_DIRS / cell_id


def family_image(envs: Environments, family: str) -> str:
    return envs.runtime_image(runtimes.BY_FAMILY[family].identifier)


def template(envs: Environments, family: str, cell_id: str) -> ContainerSpec:
    """The container of a new cell: what ``containers.container_spec`` builds for a function, minus the
    function (its environment, code and limits come with the claim)."""
    s = envs.settings
    base = cell_dir(s.data_dir, cell_id)
    (base / "task").mkdir(parents=True, exist_ok=True)
    (base / "opt").mkdir(exist_ok=True)
    environment = {"LAMINA_CELL": "1", "LAMINA_CELL_ID": cell_id, "LAMINA_AGENT_PORT": str(AGENT_PORT)}
    row = runtimes.BY_FAMILY[family]
    if row.prestart and row.bootstrap is not None:  # its runtime loads now and waits for the claim
        environment.update(LAMINA_CELL_PRESTART="1", LAMINA_RUNTIME_CMD=json.dumps(list(row.bootstrap)))
    return ContainerSpec(
        name=f"lamina-cell-{family.replace('.', '')}-{cell_id[:12]}",
        image=family_image(envs, family),
        environment=environment,
        memory_mb=CELL_MEMORY_MB,
        tmp_mb=CELL_TMP_MB,
        agent_dir=envs.agent_dir(),
        network=s.docker_network,
        labels={LABEL_MANAGED: "1", LABEL_INSTANCE: s.instance, LABEL_ENV: cell_id, LABEL_ROLE: CELL_ROLE,
                LABEL_CREATED: str(int(time.time()))},
        task_dir=base / "task",
        opt_dir=base / "opt",
        working_dir="/var/task",
        nano_cpus=BOOST_NANO_CPUS,
    )


def family_of(envs: Environments, cspec: ContainerSpec, runtime: str) -> str | None:
    """The family whose cells can run ``cspec``, or None when it must be started the ordinary way."""
    if envs.settings.stem_cells <= 0 or not runtimes.is_supported(runtime):
        return None
    family = runtimes.get(runtime).family
    # A cell's mounts are fixed at its creation: functions with a file system start the ordinary way.
    if (cspec.task_dir is None or cspec.tmp_mb != CELL_TMP_MB or cspec.no_network or cspec.extra_networks
            or cspec.volumes
            or cspec.oci_runtime != "runc" or cspec.user != "0:0" or cspec.working_dir != "/var/task"
            or cspec.network != envs.settings.docker_network or cspec.pids_limit != PIDS_LIMIT
            or cspec.image != family_image(envs, family)):
        return None
    return family


def claim(envs: Environments, env_id: str, cspec: ContainerSpec, family: str) -> tuple[str, str] | None:
    """Run ``cspec`` in a free cell of ``family``: (address, container id), or None when there is none.

    Raises CellLost when the cell taken failed (it is removed; the caller starts a container the
    ordinary way, without the network sandbox the cell's take gave back)."""
    taken = envs.pool.take_cell(family, env_id)
    if taken is None:
        return None
    cell_id, container_id, ip = taken
    base = cell_dir(envs.settings.data_dir, cell_id)
    try:
        assert cspec.task_dir is not None
        code.link_tree(cspec.task_dir, base / "task")
        if cspec.opt_dir is not None:
            code.link_tree(cspec.opt_dir, base / "opt")
        if cspec.memory_mb != CELL_MEMORY_MB:  # Lambda's default needs no Docker call
            envs.docker.set_memory(container_id, cspec.memory_mb)
        claim_cell(ip, AGENT_PORT, cell_id, cspec.environment, CLAIM_TIMEOUT_S)
    except (OSError, ExecutorError, AssertionError) as err:
        log.warning("stem cell %s of %s could not be claimed (%s); starting a container instead",
                    container_id[:12], family, err)
        envs.remove_later([container_id])
        raise CellLost(str(err)) from None
    return ip, container_id


def targets(envs: Environments, now: float) -> dict[str, int]:
    """How many free cells each family should have now."""
    s = envs.settings
    if s.stem_cells <= 0:
        return {}
    pool = envs.pool
    wanted: dict[str, int] = {}
    for family in pool.cell_families():
        if family not in runtimes.FAMILIES or pool.cold_starts_since(family, now - IDLE_FAMILY_S) == 0:
            wanted[family] = 0
            continue
        wanted[family] = min(s.stem_cells, max(CELL_MIN, pool.cold_starts_since(family, now - DEMAND_WINDOW_S)))
    cap = s.stem_cell_budget_mb // AGENT_MEMORY_MB  # what an idle cell costs: its agent
    total = sum(wanted.values())
    if total > cap:
        wanted = {f: n * cap // total for f, n in wanted.items()}
    return wanted


def replenish(envs: Environments, family: str, target: int) -> int:
    """Start cells of ``family`` until ``target`` are free or being started; return how many started."""
    started = 0
    while target > 0:
        token = uuid.uuid4().hex
        if not envs.pool.reserve_cell(family, time.time(), target, token):
            break
        cell_id = uuid.uuid4().hex
        try:
            box = envs.docker.start(template(envs, family, cell_id))
            if not envs.wait_listening(box.ip):  # listed only once its agent takes claims
                envs.remove_later([box.container_id])
                raise ExecutorError(f"the agent of cell {box.container_id[:12]} never listened")
        except (ExecutorError, OSError) as err:
            envs.pool.add_cell(family, token)  # give the claim back
            shutil.rmtree(cell_dir(envs.settings.data_dir, cell_id), ignore_errors=True)
            log.warning("cannot start a stem cell of %s: %s", family, err)
            break
        envs.pool.add_cell(family, token, cell_id, box.container_id, box.ip)
        started += 1
    return started


def ordinary(cspec: ContainerSpec) -> ContainerSpec:
    """``cspec`` without the network sandbox its lease took (a cell's take gave it back)."""
    return replace(cspec, sandbox_id=None, sandbox_ip="")
