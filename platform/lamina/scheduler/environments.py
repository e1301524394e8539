"""One execution environment's lifecycle, as OpenWhisk's ContainerProxy: start, run, forget, remove.

The invoke service hands over a ``Lease`` (what ``Pool.acquire`` found: a warm, frozen or new
environment) and an ``AgentCall``; ``Environments.run`` thaws or starts the container, posts the call to
its agent (retrying connections that a kept-alive agent had closed, and waiting for a new agent to
listen), gives the environment back to the pool and returns what the agent answered as a ``RunOutput``.

Contract with the caller:
  * A cold start needs a ``ContainerSpec``; the caller passes a ``SpecBuilder`` (it alone knows the
    function's secrets and role session) and it is called only on a cold start.
  * ``EnvironmentUnusable`` means the call never reached the runtime: the environment is already
    forgotten, and the caller places the call again (``fresh``: on a new environment).
  * A timeout or a runtime that died mid-call is a ``RunOutput`` carrying Lambda's platform error
    (``Sandbox.Timedout``, ``Runtime.ExitError``); the environment is forgotten.
  * Containers are removed on a background thread, never on the caller's path; the reaper's sweep
    removes whatever a crash left behind.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lamina.config import Settings
from lamina.errors import LambdaError, ServiceException
from lamina.executor import code, images
from lamina.executor.agent_client import AgentConnection, Connections, ProtocolError, Reply
from lamina.executor.docker_env import (
    AGENT_PORT,
    BOOST_NANO_CPUS,
    LABEL_VPC,
    OCI_RUNTIMES,
    ContainerSpec,
    DockerEnv,
    ExecutorError,
    ImageInfo,
    SandboxLost,
    Started,
    env_labels,
    socket_dir,
    spec_to_wire,
)
from lamina.executor.node_client import NodeClient, NodeRefused, NodeUnavailable
from lamina.scheduler import cells, fleet, keys, sandboxes
from lamina.scheduler.init_boost import INIT_BOOST_S, end_init_boost
from lamina.scheduler.placement import Decision
from lamina.scheduler.pool import Lease, Pool

__all__ = [
    "AGENT_PORT", "BOOST_NANO_CPUS", "AgentCall", "ContainerSpec", "EnvironmentUnusable", "Environments",
    "ExecutorError", "ImageInfo",
    "RunOutput", "SpecBuilder", "env_labels", "layer_keys", "layers_digest", "network_open_to",
]

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 10
CLIENT_TIMEOUT_SLACK_S = 5.0  # beyond the function timeout the agent enforces itself
AGENT_CONNECT_WINDOW_S = 15.0  # how long a cold start waits for the agent to listen
CONNECTIONS_PER_THREAD = 128

# (environment id, resolved function spec) -> the container to start for it
SpecBuilder = Callable[[str, Mapping[str, Any]], ContainerSpec]



@dataclass(frozen=True)
class AgentCall:
    """One invocation as the agent receives it."""

    request_id: str
    trace_id: str
    invoked_arn: str
    payload: bytes
    client_context: str | None = None
    log_tail: bool = False
    tenant_id: str | None = None


@dataclass(frozen=True)
class RunOutput:
    """What the environment answered (or the platform error that stands for it)."""

    payload: bytes
    content_type: str = "application/json"
    function_error: str | None = None
    log_result: str | None = None  # base64 of the log tail, when asked for
    duration_ms: float | None = None
    init_duration_ms: float | None = None
    max_memory_mb: int | None = None
    cold: bool = False
    env_id: str = ""  # the environment that ran it (a cold start may end on another one)


class EnvironmentUnusable(Exception):
    """The environment we were given is not usable and is forgotten; place the invocation again.

    ``fresh``: its runtime had died while idle and the event never reached it; run it on a new environment.
    """

    def __init__(self, fresh: bool = False) -> None:
        super().__init__()
        self.fresh = fresh


class _AgentTimeout(Exception):
    pass


class _AgentGone(Exception):
    pass


class _AgentUnreachable(Exception):
    pass


class Environments:
    """The environments of one Docker host as one process sees them; shared by the process's threads."""

    def __init__(
        self,
        settings: Settings,
        pool: Pool,
        docker_client: Callable[[], Any],
        blob_path: Callable[[str], Path],
        *,
        init_boost: bool = True,
        sandboxes: int | None = None,
        image_for_runtime: Callable[[str], str] | None = None,
        agent_dir: Callable[[], Path] | None = None,
        node_token: str = "",
        log_sink: Callable[[str, str, str, bytes], None] | None = None,
    ) -> None:
        self.settings = settings
        # Where an invocation's log lines go: (account, group key, stream, lines); None: this host's stream
        # files. LAMINA_LOG_STORE=postgres hands a database writer in (lamina.services.logs.shared).
        self.log_sink = log_sink
        self.pool = pool
        self.blob_path = blob_path
        self.init_boost = init_boost
        self.sandboxes = settings.sandboxes if sandboxes is None else sandboxes
        self._docker_client = docker_client
        self._docker: DockerEnv | None = None
        self._image_for_runtime = image_for_runtime or (lambda rt: images.image_for_runtime(settings, rt))
        self._agent_dir = agent_dir or functools.cache(lambda: images.published_agent_dir(settings.data_dir))
        self._replenishing = threading.Lock()
        self._gateway: str | None = None  # the function network's gateway address (function_endpoint)
        self._log_dirs: dict[tuple[str, str], Path] = {}  # (account, function) -> its log directory
        self._conns = Connections(CONNECTIONS_PER_THREAD)
        self._background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lamina-env-bg")
        # A fleet (LAMINA_PLACEMENT=fleet): cold starts go to the nodes; calls in flight on a node that is
        # lost are aborted (their connections shut down) so no invoke waits on a host that is gone.
        self.placer: fleet.Placer | None = None
        self._inflight: dict[str, AgentConnection] = {}
        self._lost_calls: set[str] = set()
        if settings.placement == "fleet":
            self.placer = fleet.Placer(fleet.Registry(pool.redis), NodeClient(node_token), settings.node_ttl_s)
            threading.Thread(target=self._watch_fleet, name="lamina-fleet-watch", daemon=True).start()

    @property
    def docker(self) -> DockerEnv:
        """Made on first use, so building an app or a worker touches no Docker engine."""
        if self._docker is None:
            self._docker = DockerEnv(self._docker_client())
        return self._docker

    def close(self) -> None:
        self._background.shutdown(wait=True)

    # -- what a ContainerSpec is built from (the host side of it)

    def runtime_image(self, runtime: str) -> str:
        return self._image_for_runtime(runtime)

    def image_info(self, image: str) -> ImageInfo:
        if self.placer is None:
            return self.docker.image_info(image)
        info = self.placer.image_info(image, time.time())
        if info is None:
            raise ServiceException(f"No node of the fleet has the image {image}")
        return ImageInfo(tuple(info.get("entrypoint") or ()), tuple(info.get("cmd") or ()),
                         str(info.get("working_dir") or ""), dict(info.get("env") or {}))

    def cpu_limit_later(self, oci_runtime: str) -> bool:
        """Whether the init boost applies (see DockerEnv.cpu_limit_later); a fleet's nodes decide for runsc."""
        return self.placer is not None or self.docker.cpu_limit_later(oci_runtime)

    def task_dir(self, code_key: str) -> Path:
        """The function's code, extracted once on this host (read-only at /var/task). In a fleet the node
        that starts the environment extracts it on its own host (this path is then only a name)."""
        if self.placer is not None:
            return self.settings.data_dir / "tasks" / code_key
        path = code.task_dir(self.settings.data_dir, self.blob_path, code_key)
        if self.pool.node:  # a fleet's node says which code it holds, so cold starts of it come here first
            self.pool.redis.sadd(keys.node_code(self.pool.node), code_key)
        return path

    def opt_dir(self, layer_keys: Sequence[str]) -> Path | None:
        """The function's layers merged once on this host (read-only at /opt), or None without layers."""
        if self.placer is not None:
            return self.settings.data_dir / "opt" / code.opt_digest(layer_keys) if layer_keys else None
        return code.opt_dir(self.settings.data_dir, self.blob_path, layer_keys)

    def log_dir(self, account_id: str, function_name: str) -> Path:
        return code.log_dir(self.settings.data_dir, account_id, function_name)

    def agent_dir(self) -> Path:
        return self._agent_dir()

    def socket_dir(self, env_id: str) -> Path:
        return socket_dir(self.settings.data_dir, env_id)

    def labels(self, env_id: str, function: str, version: str, pool_id: str) -> dict[str, str]:
        return env_labels(self.settings.instance, env_id, function, version, pool_id)

    def function_endpoint(self) -> str:
        """The API's URL as function code sees it: LAMINA_PUBLIC_URL; else, for an API listening on every
        interface, its port on the function network's gateway (the host, as seen from the bridge)."""
        s = self.settings
        if s.public_url or s.host not in ("0.0.0.0", "::") or self.placer is not None:
            return s.base_url
        if self._gateway is None:
            self.docker.ensure_network(s.docker_network)
            ipam = self.docker.api.inspect_network(s.docker_network).get("IPAM") or {}
            self._gateway = next((c["Gateway"] for c in ipam.get("Config") or [] if c.get("Gateway")), "")
        return f"http://{self._gateway}:{s.port}" if self._gateway else s.base_url

    # -- the lifecycle

    def run(self, lease: Lease, call: AgentCall, build_spec: SpecBuilder, *, redeliver: bool = True) -> RunOutput:
        """Run ``call`` on ``lease``'s environment and give the environment back.

        Raises EnvironmentUnusable (place the call again), ServiceException (a cold start failed) or
        another LambdaError the spec builder raised.
        """
        spec = lease.spec
        timeout_s = int(spec.get("timeout") or 3)
        name = str(spec.get("function_name") or "")
        if lease.decision is Decision.COLD:
            try:
                if self.placer is not None:
                    started = self._start_on_node(lease, build_spec)
                else:
                    started = self.start(lease, build_spec(lease.env_id, spec))
            except SandboxLost as err:
                # Docker lost the sandbox this cold start took: forget it, and the caller starts another.
                log.warning("cold start of %s lost its network sandbox (%s); starting again", name, err)
                self.forget(lease.env_id)
                raise EnvironmentUnusable() from None
            except LambdaError:
                self.forget(lease.env_id)
                raise
            except Exception as err:
                self.forget(lease.env_id)
                log.exception("cannot start an environment for %s", name)
                raise ServiceException(f"Cannot start an execution environment for {name}: {err}") from None
            lease = replace(lease, address=started[0], container_id=started[1])
        address, container_id = lease.address, lease.container_id
        cold = lease.decision is Decision.COLD
        if lease.decision is Decision.FROZEN:
            try:
                self.thaw(lease.env_id, container_id)
            except ExecutorError as err:
                log.warning("cannot thaw environment %s of %s: %s", lease.env_id, name, err)
                self.forget(lease.env_id, container_id)
                raise EnvironmentUnusable() from None

        headers = {
            "Lambda-Runtime-Aws-Request-Id": call.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + timeout_s) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": call.invoked_arn,
            "Lambda-Runtime-Trace-Id": call.trace_id,
            "X-Lamina-Version": str(spec.get("version") or "$LATEST"),
            "X-Lamina-Timeout-S": str(timeout_s),
            "Content-Type": "application/json",
        }
        if call.client_context:
            headers["Lambda-Runtime-Client-Context"] = call.client_context
        if call.tenant_id:
            headers["Lambda-Runtime-Aws-Tenant-Id"] = call.tenant_id
        if call.log_tail:
            headers["X-Lamina-Log-Tail"] = "1"
        socket_timeout = timeout_s + CLIENT_TIMEOUT_SLACK_S + (INIT_TIMEOUT_S if cold else 0)
        try:
            # Lambda hands a function invoked without a payload the event {}.
            reply = self.post(lease.env_id, address, call.payload or b"{}", headers, socket_timeout, cold)
        except _AgentTimeout:
            self.forget(lease.env_id, container_id)
            return replace(_platform_error(
                "Sandbox.Timedout", f"{_rfc3339()} {call.request_id} Task timed out after {timeout_s:.2f} seconds",
            ), duration_ms=timeout_s * 1000.0, cold=cold)
        except _AgentUnreachable as err:
            self.forget(lease.env_id, container_id)
            if cold and self.placer is None and (
                    (lease.sandbox_id and self.docker.sandbox_gone(lease.sandbox_id))
                    or self.docker.container_removed(container_id)):
                # Docker lost (or a sweep removed) the sandbox or the container it joined (a claimed stem
                # cell's) under the new environment: start another.
                log.warning("new environment %s of %s lost its container or network sandbox; starting again",
                            lease.env_id, name)
                raise EnvironmentUnusable() from None
            if cold:
                log.warning("agent of new environment %s of %s never listened: %s", lease.env_id, name, err)
                raise ServiceException(f"The execution environment of {name} did not start") from None
            log.warning("environment %s of %s is unreachable (%s); placing the call again", lease.env_id, name, err)
            raise EnvironmentUnusable() from None
        except _AgentGone as err:
            log.warning("environment %s of %s went away mid-invoke: %s", lease.env_id, name, err)
            self.forget(lease.env_id, container_id)
            if lease.env_id in self._lost_calls:
                self._lost_calls.discard(lease.env_id)
                return replace(_platform_error(
                    "Runtime.ExitError", f"RequestId: {call.request_id} Error: the host of the execution "
                    "environment was lost",
                ), cold=cold)
            return replace(_platform_error(
                "Runtime.ExitError", f"RequestId: {call.request_id} Error: Runtime exited without providing a reason",
            ), cold=cold)

        if reply.status != 200:
            # 409 means two invocations met on one environment: our bookkeeping is wrong; do not reuse it.
            self.forget(lease.env_id, container_id)
            raise ServiceException(f"Execution environment answered HTTP {reply.status}")
        payload = self._store_logs(lease, reply)
        if reply.headers.get("x-lamina-reset") == "1":
            self.forget(lease.env_id, container_id)
            if (redeliver and reply.headers.get("x-lamina-outcome") == "exit"
                    and reply.headers.get("x-lamina-dispatched") == "0"):
                log.info("runtime of environment %s of %s had exited; running %s on a new one",
                         lease.env_id, name, call.request_id)
                raise EnvironmentUnusable(fresh=True)
        else:
            if cold and reply.headers.get("x-lamina-extensions"):
                self.pool.mark_extensions(lease.env_id)
            released = self.pool.release(lease.env_id, time.time())
            if released.outcome == "retired":
                self.remove_later(released.container_ids)
            if cold:
                # The first invoke ran with the init boost (Lambda-like), if any; now the proportional share.
                self.later(self.end_boost, container_id)
        return RunOutput(
            payload=payload,
            content_type=reply.headers.get("content-type") or "application/json",
            function_error=reply.headers.get("x-lamina-function-error") or None,
            log_result=reply.headers.get("x-lamina-log-result") if call.log_tail else None,
            duration_ms=_float_header(reply.headers.get("x-lamina-duration-ms")),
            init_duration_ms=_float_header(reply.headers.get("x-lamina-init-duration-ms")),
            max_memory_mb=_int_header(reply.headers.get("x-lamina-max-memory-mb")),
            cold=cold,
            env_id=lease.env_id,
        )

    def _store_logs(self, lease: Lease, reply: Reply) -> bytes:
        """Append the log lines riding after the payload to the environment's stream; return the payload.

        Only the platform writes log streams (no container mounts them): the agent hands over what the
        runtime printed and its own START/END/REPORT lines with each answer.
        """
        try:
            size = int(reply.headers.get("x-lamina-log-length") or 0)
        except ValueError:
            size = 0
        if size <= 0 or size > len(reply.body):
            return reply.body
        payload, lines = reply.body[:-size], reply.body[-size:]
        stream = reply.headers.get("x-lamina-log-stream") or ""
        # The stream is named by the platform (…[version]<env id>); anything else is not this environment's.
        if not stream.endswith(lease.env_id) or "/" in stream or "\0" in stream or stream.startswith("."):
            log.warning("environment %s named a log stream %r that is not its own; lines dropped",
                        lease.env_id, stream[:120])
            return payload
        spec = lease.spec
        # The function's log group (its directory key: its name, or a LoggingConfig LogGroup's).
        owner = (str(spec.get("account_id") or ""), str(spec.get("log_key") or spec.get("function_name") or ""))
        if self.log_sink is not None:
            try:
                self.log_sink(owner[0], owner[1], stream, lines)
            except Exception as err:  # noqa: BLE001 - the answer goes out; the lines are what is lost
                log.warning("cannot store the log lines of %s: %s", owner[1], err)
            return payload
        for attempt in (1, 2):
            # The directory is made (a stat and a mkdir) once per function and process, not per invoke.
            directory = self._log_dirs.get(owner) or self._log_dirs.setdefault(owner, self.log_dir(*owner))
            try:
                fd = os.open(directory / stream, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
            except FileNotFoundError:
                self._log_dirs.pop(owner, None)  # removed meanwhile (the function's logs were deleted): remake
                if attempt == 1:
                    continue
                log.warning("cannot write the log stream %s of %s: its directory is gone", stream, owner[1])
                break
            except OSError as err:
                log.warning("cannot write the log stream %s of %s: %s", stream, owner[1], err)
                break
            try:
                os.write(fd, lines)
            except OSError as err:
                log.warning("cannot write the log stream %s of %s: %s", stream, owner[1], err)
            finally:
                os.close(fd)
            break
        return payload

    def _start_on_node(self, lease: Lease, build_spec: SpecBuilder) -> tuple[str, str]:
        """Cold start in a fleet: choose a node, build the spec, and have the node start it on its host."""
        assert self.placer is not None
        spec = lease.spec
        name = str(spec.get("function_name") or "")
        memory = int(spec.get("memory_size") or 128)
        image_package = spec.get("package_type") == "Image"
        image = str(spec.get("image_uri") or "") if image_package else (
            str(spec.get("runtime_image") or "") or self.runtime_image(str(spec.get("runtime") or "")))
        now = time.time()
        try:
            family = "" if image_package else images.family_for_runtime(str(spec.get("runtime") or ""))
        except ValueError:
            family = ""
        node = self.placer.choose(memory, image, now, family, "" if image_package else str(spec.get("code_key") or ""))
        if node is None:
            raise ServiceException(f"No node of the fleet can start {name} now: none is live, not draining, "
                                   f"holds the image {image} and has {memory} MB free")
        cspec = build_spec(lease.env_id, spec)
        code_key = None if image_package else str(spec.get("code_key") or "")
        layers = [] if image_package else layer_keys(spec.get("layers") or ())
        wire_lease = {"env_id": lease.env_id, "spec": dict(spec)}
        try:
            return self.placer.client.start(node.url, wire_lease, spec_to_wire(cspec), code_key, layers)
        except NodeUnavailable as err:
            log.warning("node %s could not start %s (%s); placing it elsewhere", node.node_id, name, err)
            self.placer.failed(node.node_id, now)
            raise SandboxLost(str(err)) from None
        except NodeRefused as err:
            if err.kind == "unusable":
                raise SandboxLost(err.message) from None
            if err.kind == "lambda":
                refused = LambdaError(err.message)
                refused.status, refused.error_type = err.status, err.error_type or "ServiceException"
                raise refused from None
            raise ServiceException(f"Cannot start an execution environment for {name}: {err.message}") from None

    def thaw(self, env_id: str, container_id: str) -> None:
        """Unpause a frozen environment's container (on its node, in a fleet)."""
        if self.placer is None:
            self.docker.unpause(container_id)
            return
        url = self.placer.url_of(self.pool.env(env_id).get("node", ""), time.time())
        if url is None:
            raise ExecutorError(f"the node of environment {env_id} is gone")
        try:
            self.placer.client.thaw(url, container_id)
        except (NodeUnavailable, NodeRefused) as err:
            raise ExecutorError(str(err)) from None

    def _watch_fleet(self) -> None:
        """Take out lost nodes, abort this process's calls in flight on them, and keep the pool's memory
        budget the fleet's (every live node's)."""
        assert self.placer is not None
        while True:
            try:
                now = time.time()
                self.placer.registry.take_out_lost(self.pool, now, self.settings.node_ttl_s)
                lost_envs = set().union(*self.placer.registry.lost(now).values())
                for env_id, conn in list(self._inflight.items()):
                    if env_id in lost_envs and conn.sock is not None:
                        self._lost_calls.add(env_id)
                        try:
                            conn.sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                self.pool.memory_budget_mb = max(1, self.placer.memory_budget_mb(now))
            except Exception:  # noqa: BLE001 - Redis away for a moment: the next round retries
                log.exception("fleet watch round failed")
            time.sleep(0.5)

    def start(self, lease: Lease, cspec: ContainerSpec) -> tuple[str, str]:
        """Cold start: claim a stem cell for ``lease``, or create and start its container; return
        (address, container id)."""
        name = str(lease.spec.get("function_name") or "")
        bridged = cspec.network == self.settings.docker_network and not cspec.no_network and not cspec.extra_networks
        if not lease.sandbox_id and self.pool.node and self.sandboxes and bridged:
            taken = self.pool.take_sandbox(lease.env_id)  # a node's start (the API took no sandbox)
            if taken is not None:
                lease = replace(lease, sandbox_id=taken[0], address=taken[1])
        if lease.sandbox_id:
            cspec = replace(cspec, sandbox_id=lease.sandbox_id, sandbox_ip=lease.address)
        family = cells.family_of(self, cspec, str(lease.spec.get("runtime") or ""))
        if family is not None:
            self.pool.record_cold_start(family, time.time(), cells.IDLE_FAMILY_S)
            try:
                claimed = cells.claim(self, lease.env_id, cspec, family)
            except cells.CellLost:
                claimed, cspec = None, cells.ordinary(cspec)  # the cell took (and gave back) the sandbox
            self.later(self.replenish_cells, family)  # one was used, or demand grew: top the pool up
            if claimed is not None:
                return self._started(lease, cspec, Started(claimed[1], claimed[0]), name, cell=True)
        if self.sandboxes:
            self.later(self.replenish_sandboxes)  # one was used (or there was none): top the list up
        return self._started(lease, cspec, self.docker.start(cspec), name)

    def _started(self, lease: Lease, cspec: ContainerSpec, started: Started, name: str, cell: bool = False,
                 ) -> tuple[str, str]:
        if cspec.boosted:
            # The boost lasts the first invoke or INIT_BOOST_S, whichever ends first: a function that never
            # answers, or crashes to be started again, gets no more than that (the reaper ends due boosts).
            self.pool.boost(started.container_id, time.time() + INIT_BOOST_S, oci_runtime(lease.spec),
                            cspec.memory_mb)
        elif cell:  # a cell waits with the boost's CPU: this function gets its share at once
            self.docker.limit_cpu(started.container_id, cspec.nano_cpus or ContainerSpec.cpu_for(cspec.memory_mb))
        if not self.pool.started(lease.env_id, started.ip, started.container_id):
            # The reaper gave up on this start (lease expired): do not run on a container nobody tracks.
            self.remove_later([started.container_id])
            raise ServiceException(f"Execution environment of {name} was reclaimed while starting")
        return started.ip, started.container_id

    def replenish_cells(self, family: str | None = None) -> int:
        """Top the stem-cell pools (of ``family``, or of every family) up to their targets; return how many
        cells were started."""
        wanted = cells.targets(self, time.time())
        started = 0
        for fam, target in wanted.items():
            if family is None or fam == family:
                started += cells.replenish(self, fam, target)
        return started

    def maintain_cells(self) -> None:
        """One round of stem-cell upkeep (the reaper's): trim pools whose demand fell, refill the others."""
        self.trim_cells()
        self.replenish_cells()

    def trim_cells(self) -> list[str]:
        """Remove free cells beyond each family's target (demand fell); return their container ids."""
        removed: list[str] = []
        for fam, target in cells.targets(self, time.time()).items():
            removed += self.pool.trim_cells(fam, target)
        self.remove_later(removed)
        return removed

    def boosted(self, container_id: str) -> bool:
        """Whether the container still runs with its init boost."""
        return self.pool.is_boosted(container_id)

    def end_boost(self, container_id: str) -> None:
        """Give a boosted container its proportional CPU share (once, whoever comes first)."""
        if self.placer is None:
            end_init_boost(self.pool, self.docker, container_id)
            return
        for node in self.placer.live(time.time()):  # the node whose pool holds the boost applies it
            try:
                self.placer.client.end_boost(node.url, container_id)
            except (NodeUnavailable, NodeRefused) as err:
                log.debug("node %s: %s", node.node_id, err)

    def forget(self, env_id: str, container_id: str = "") -> None:
        """Drop ``env_id`` from the pool and remove its containers in the background."""
        shutil.rmtree(self.socket_dir(env_id), ignore_errors=True)
        recorded = self.pool.discard(env_id)
        if recorded:
            self.remove_later(recorded)
        elif container_id:
            self.remove_later([container_id])

    def remove_later(self, container_ids: Sequence[str]) -> None:
        """Remove containers on a background thread, in order (an environment before its sandbox)."""
        ids = [c for c in container_ids if c]
        for cid in ids:  # a container on its way out needs no end to its init boost
            if self.placer is None:
                self.pool.end_boost(cid)
        if ids:
            self.later(self._remove_all, ids)

    def later(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the background pool, logging (not losing) any exception."""

        def run() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("background task %s failed", getattr(fn, "__name__", fn))

        try:
            self._background.submit(run)
        except RuntimeError:  # closed: the process is stopping; the reaper sweeps what this leaves
            log.debug("not running %s: environments are closed", getattr(fn, "__name__", fn))

    def replenish_sandboxes(self) -> int:
        """Start network sandboxes until ``self.sandboxes`` are ready; return how many were started."""
        if not self._replenishing.acquire(blocking=False):
            return 0  # another thread of this process is at it
        try:
            return sandboxes.replenish(self.pool, self.docker, self.sandbox_image(), self.settings.docker_network,
                                       self.settings.instance, self.sandboxes)
        finally:
            self._replenishing.release()

    def sandbox_image(self) -> str:
        return images.base_image_tag(self.settings)

    def _remove_all(self, container_ids: Sequence[str]) -> None:
        if self.placer is not None:
            self.placer.remove_everywhere(container_ids, time.time())
            return
        self.remove_here(container_ids)

    def remove_here(self, container_ids: Sequence[str]) -> None:
        """Remove containers from this host's engine, in order."""
        for container_id in container_ids:
            try:
                self.docker.remove(container_id)
            except ExecutorError as err:
                # The scheduler's sweep removes any labelled container it does not know about.
                log.warning("%s", err)

    # -- the agent transport

    def wait_listening(self, address: str, timeout_s: float = AGENT_CONNECT_WINDOW_S) -> bool:
        """Whether the agent at ``address`` accepts connections within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            conn = AgentConnection(address, AGENT_PORT, 1.0)
            try:
                conn.connect()
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
            finally:
                conn.close()

    def await_init(self, address: str, timeout_s: float = INIT_TIMEOUT_S) -> str:
        """Wait until the agent at ``address`` has initialized its runtime; return its phase ("ready", or
        "failed" / "init" when it did not get there in ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        phase = "init"
        while time.monotonic() < deadline:
            conn = AgentConnection(address, AGENT_PORT, 2.0)
            try:
                conn.connect()
                assert conn.sock is not None
                conn.sock.sendall(b"GET /ready HTTP/1.1\r\nHost: agent\r\nContent-Length: 0\r\n\r\n")
                raw = conn.sock.recv(4096)
                phase = json.loads(raw.split(b"\r\n\r\n", 1)[1] or b"{}").get("phase", "ready")
            except (OSError, ValueError, IndexError):
                pass
            finally:
                conn.close()
            if phase in ("ready", "failed", "dead"):
                return str(phase)
            time.sleep(0.01)
        return str(phase)

    def post(self, env_id: str, address: str, body: bytes, headers: dict[str, str], timeout: float,
             cold: bool) -> Reply:
        """POST /invoke to the agent at ``address``.

        Raises _AgentTimeout (no answer in ``timeout``), _AgentGone (the connection broke after the
        request was sent) or _AgentUnreachable (nothing was sent: the environment is not there).
        """
        conn = self._conns.take(env_id)
        connect_until = time.monotonic() + AGENT_CONNECT_WINDOW_S
        while True:
            if conn is None:
                conn = AgentConnection(address, AGENT_PORT, timeout)
            reused, sent = conn.reused, False
            if self.placer is not None:
                self._inflight[env_id] = conn
            try:
                conn.send("/invoke", body, headers, timeout)
                sent = True
                reply, keep = conn.receive()
            except OSError as err:
                conn.close()
                conn = None
                if reused and (not sent or isinstance(err, ConnectionError | ProtocolError)):
                    # A kept-alive connection the agent had closed: once more on a fresh one.
                    continue
                if sent:
                    if isinstance(err, TimeoutError):
                        raise _AgentTimeout() from None
                    raise _AgentGone(str(err) or type(err).__name__) from None
                if cold and time.monotonic() < connect_until:
                    # The container is up but its agent does not listen yet.
                    time.sleep(0.002)
                    continue
                raise _AgentUnreachable(str(err) or type(err).__name__) from None
            except ValueError as err:  # a malformed Content-Length or status code
                conn.close()
                raise _AgentGone(str(err)) from None
            finally:
                self._inflight.pop(env_id, None)
            if keep:
                self._conns.give(env_id, conn)
            else:
                conn.close()
            return reply


def network_open_to(docker_client: Any, network: str, account_id: str) -> bool:
    """Whether an operator opened Docker network ``network`` to the account's functions (label lamina.vpc)."""
    labels = DockerEnv(docker_client).network_labels(network)
    return labels is not None and labels.get(LABEL_VPC) in (account_id, "*")


def layers_digest(layer_keys: Sequence[str]) -> str:
    """The name of the merged directory of a list of layers on every host (code GC compares against it)."""
    return code.opt_digest(layer_keys)


def layer_keys(layers: Sequence[Any]) -> list[str]:
    """The code keys of a resolved spec's layers, in order."""
    return [str(layer["code_key"]) for layer in layers if isinstance(layer, Mapping) and layer.get("code_key")]


def _platform_error(error_type: str, message: str) -> RunOutput:
    body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
    return RunOutput(payload=body, function_error="Unhandled")


def _float_header(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _int_header(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def oci_runtime(spec: Mapping[str, Any]) -> str:
    """The Docker runtime of a resolved spec's isolation mode (runc unless it says gvisor)."""
    return OCI_RUNTIMES.get(str(spec.get("isolation") or "container"), "runc")
