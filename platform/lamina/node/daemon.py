"""One host's scheduler: the reaper, stem cells and provisioned concurrency (``lamina scheduler``), and in a
fleet also the node's heartbeat, the take-out of lost peers, draining and the node service (``lamina node``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server

from lamina.config import Settings
from lamina.executor.docker_env import DockerEnv, ExecutorError
from lamina.executor.images import base_image_tag
from lamina.node.service import create_node_app
from lamina.scheduler import fleet, keys
from lamina.scheduler.fleet import NodeRecord, Registry
from lamina.scheduler.reaper import Reaper
from lamina.services.functions import provisioned
from lamina.services.functions.functions import code_in_use
from lamina.services.iam import secrets
from lamina.services.invoke.invocations import Invoker
from lamina.wiring import Components

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
IMAGES_EVERY_S = 10.0  # the image list in the heartbeat is refreshed this often (a Docker call)


def build_scheduler(settings: Settings, comps: Components) -> tuple[Reaper, Invoker]:
    """The reaper of this host's engine and the Invoker that keeps its stem cells and provisioned
    environments (so they survive the API processes)."""
    keeper = Invoker(settings=settings, redis_client=comps.redis, sessions=comps.sessions,
                     blob_path=comps.code_store.path, docker_client=lambda: comps.docker,
                     sandboxes=settings.sandboxes if settings.node_id else 0)
    reaper = Reaper(
        pool=keeper.pool,
        docker=DockerEnv(comps.docker),
        instance=settings.instance,
        freeze_after_s=settings.freeze_after_s,
        idle_timeout_s=settings.idle_timeout_s,
        sandboxes=settings.sandboxes,
        sandbox_image=base_image_tag(settings),
        network=settings.docker_network,
        data_dir=settings.data_dir,
        code_in_use=lambda: code_in_use(comps.sessions),
    )
    if settings.stem_cells:
        reaper.maintain_cells = keeper.environments.maintain_cells
    next_round = [0.0]

    def provision_all() -> None:
        if time.monotonic() < next_round[0]:
            return
        next_round[0] = time.monotonic() + 2.0
        for account_id, name, qualifier, requested in provisioned.all_configs(comps.sessions):
            keeper.provision(account_id, name, qualifier, requested)

    reaper.maintain_provisioned = provision_all
    return reaper, keeper


def node_address(settings: Settings) -> str:
    """LAMINA_NODE_ADDRESS, else the address this host's default route leaves from."""
    if settings.node_address:
        return settings.node_address
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def _api_port(settings: Settings) -> int:
    """The port functions reach the API on (LAMINA_PUBLIC_URL's, else LAMINA_PORT)."""
    from urllib.parse import urlsplit

    return urlsplit(settings.base_url).port or settings.port


@dataclass
class NodeDaemon:
    """``lamina node``: heartbeat, lost peers, drain and the node service, beside this host's reaper."""

    settings: Settings
    comps: Components
    reaper: Reaper
    keeper: Invoker
    clock: Callable[[], float] = time.time
    _images: dict[str, Any] = field(default_factory=dict)
    _started: float = field(default_factory=time.time)

    @property
    def node_id(self) -> str:
        return self.settings.node_id

    @property
    def registry(self) -> Registry:
        return Registry(self.comps.redis)

    def refresh_images(self) -> None:
        """Read the engine's images for the heartbeat (on its own thread: a busy engine answers slowly, and
        the heartbeat must not wait on Docker)."""
        try:
            infos = self.reaper.docker.image_infos()
        except ExecutorError as err:
            log.warning("cannot list this engine's images: %s", err)
            return
        self._images = {name: {"entrypoint": list(i.entrypoint), "cmd": list(i.cmd), "working_dir": i.working_dir,
                               "env": dict(i.env)} for name, i in infos.items()}

    def _images_loop(self, stop: threading.Event) -> None:
        while not stop.wait(IMAGES_EVERY_S):
            self.refresh_images()

    def publish_code(self) -> None:
        """Say which code this host holds extracted (after a restart its data directory may hold more, or
        less, than Redis remembers); cold starts then extract here, and the reaper's collection, keep it."""
        tasks = self.settings.data_dir / "tasks"
        held = [p.name for p in tasks.iterdir() if p.is_dir() and not p.name.startswith(".")] if tasks.is_dir() else []
        pipe = self.comps.redis.pipeline(transaction=True)
        pipe.delete(keys.node_code(self.node_id))
        if held:
            pipe.sadd(keys.node_code(self.node_id), *held)
        pipe.execute()

    def record(self, now: float) -> NodeRecord:
        mine = [e for e in self.keeper.pool.snapshot().envs if e.node == self.node_id]
        return NodeRecord(
            node_id=self.node_id, address=node_address(self.settings), port=self.settings.node_port,
            cores=os.cpu_count() or 1, memory_budget_mb=self.settings.effective_memory_budget_mb,
            memory_used_mb=sum(e.memory_mb for e in mine), environments=len(mine),
            busy=sum(1 for e in mine if e.state.holds_slot), images=self._images, seen=now,
            cells=dict(Counter(family for family in self.keeper.pool.cell_families()
                               for _cell in self.keeper.pool.free_cells(family))),
            started=self._started,
        )

    def beat(self) -> None:
        """One heartbeat round: publish this node, take out lost peers, and, when draining, remove idle
        environments so their traffic starts elsewhere (busy ones finish first)."""
        now = self.clock()
        registry = self.registry
        registry.heartbeat(self.record(now))
        registry.take_out_lost(self.keeper.pool, now, self.settings.node_ttl_s)
        if self.comps.redis.sismember(keys.nodes_draining(), self.node_id):
            for e in self.keeper.pool.snapshot().envs:
                if e.node == self.node_id and e.state.idle:
                    removed = self.keeper.pool.reap_if(e.env_id, now, "idle", 0.0)
                    if removed:
                        self.keeper.environments.remove_here(removed)

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        from lamina.executor import firewall
        from lamina.executor.docker_env import AGENT_PORT

        firewall.open_to_control_plane(self.reaper.docker.bridge_of(self.settings.docker_network),
                                       self.settings.control_cidrs, AGENT_PORT, self.settings.fleet_cidrs,
                                       self.settings.node_port, _api_port(self.settings))
        token = fleet.node_token(secrets.master_keys(self.settings)[0])
        app = create_node_app(self.keeper.environments, token)
        server = make_server(self.settings.node_address or "0.0.0.0", self.settings.node_port, app, threaded=True)
        threading.Thread(target=server.serve_forever, name="lamina-node-service", daemon=True).start()
        self.refresh_images()
        self.publish_code()
        threading.Thread(target=self._images_loop, args=(stop,), name="lamina-node-images", daemon=True).start()
        self.beat()  # registered before the first sweep (which may take a while on a busy engine)
        threading.Thread(target=self.reaper.run, args=(stop, interval_s), name="lamina-reaper", daemon=True).start()
        log.info("lamina node %s serving on %s:%d", self.node_id, node_address(self.settings), self.settings.node_port)
        while not stop.is_set():
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - Redis away (a failover): beat again next round
                log.exception("heartbeat failed")
            stop.wait(HEARTBEAT_S)
        server.shutdown()
