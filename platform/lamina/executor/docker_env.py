"""The Docker adapter: create/start, pause/unpause, remove and list execution-environment containers.

A small explicit interface over the Docker SDK (``DockerEnv``); nothing else in lamina imports
``docker``. Containers are created with the low-level API because the high-level ``containers.create``
inspects the container again after creating it, a round trip a cold start does not need.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.types import Mount

log = logging.getLogger(__name__)

LABEL_MANAGED = "lamina.managed"
LABEL_INSTANCE = "lamina.instance"
LABEL_ENV = "lamina.env"
LABEL_FUNCTION = "lamina.function"
LABEL_VERSION = "lamina.version"
LABEL_POOL = "lamina.pool"
LABEL_ROLE = "lamina.role"  # "sandbox" for network sandboxes
LABEL_CREATED = "lamina.created"  # epoch seconds, on sandboxes (the sweep spares young ones)
SANDBOX_ROLE = "sandbox"

AGENT_MOUNT = "/var/lamina"
AGENT_ENTRYPOINT = ("python3", "-S", f"{AGENT_MOUNT}/agent.py")
AGENT_PORT = 8080
SANDBOX_USER = "993:990"  # the runtime's user (Lambda's sbx_user1051), and the network sandboxes'
AGENT_USER = "994:994"  # the agent's own: the runtime cannot open its /proc entries nor signal it
# An environment starts as root with just these, and its agent drops them at once: it empties the
# bounding set, starts the runtime as SANDBOX_USER, and keeps only KILL as AGENT_USER.
AGENT_START_CAPS = ["SETUID", "SETGID", "SETPCAP", "KILL"]
LABEL_VPC = "lamina.vpc"  # on a Docker network: the account id (or "*") whose functions may attach to it
SOCKET_MOUNT = "/var/run/lamina"  # an environment without a network: its agent's unix socket is here
SOCKET_DIRS = "agent-sockets"  # under the data directory: one directory per such environment
UNIX_ADDRESS = "unix:"  # the address of such an environment: "unix:<host path of the socket>"
PIDS_LIMIT = 1024
# The Docker runtime of each isolation mode (lamina.services.functions.isolation).
OCI_RUNTIMES = {"container": "runc", "gvisor": "runsc"}
# gVisor's sentry, gofer and (ptrace platform) stub processes are host tasks of the container's pids
# cgroup too: about 60 when idle, and a stub per guest thread group. Added to the function's own limit.
GVISOR_PIDS = 256
CGROUP_ROOT = Path("/sys/fs/cgroup")
ICC_OPTION = "com.docker.network.bridge.enable_icc"
MB_PER_VCPU = 1769  # Lambda gives one vCPU at 1 769 MB
BOOST_NANO_CPUS = 1_000_000_000  # the init boost: at least one vCPU, never the whole host
CFS_PERIOD_US = 20_000
# The agent's own CPU, beside the function's share (issue 14): the function's processes (the runtime's user)
# get a child cgroup with the memory-proportional share, as on Lambda; the container as a whole gets that
# plus this allowance, so relaying invokes and logs never spends the function's CPU.
PLATFORM_NANO_CPUS = 250_000_000
FUNCTION_CGROUP = "function"
# Lambda's name of the execution environment itself: extensions' Telemetry API listeners bind to it.
SANDBOX_HOSTS = {"sandbox.localdomain": "127.0.0.1", "sandbox": "127.0.0.1"}
AGENT_MEMORY_MB = 16  # the agent's resident memory (about 12 MiB), beside the function's MemorySize
RUNTIME_UID = int(SANDBOX_USER.split(":", 1)[0])


class ExecutorError(RuntimeError):
    """A container could not be created, started or found."""


class SandboxLost(ExecutorError):
    """The network sandbox a container was to join is gone (removed, or lost by Docker)."""


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to run one execution environment."""

    name: str
    image: str
    environment: Mapping[str, str]
    memory_mb: int
    tmp_mb: int
    agent_dir: Path
    network: str
    labels: Mapping[str, str]
    task_dir: Path | None = None  # /var/task (zip functions)
    opt_dir: Path | None = None  # /opt (merged layers)
    working_dir: str | None = None
    # CPU the container gets for its whole life; ``None`` leaves it unlimited (see ``init_boost``).
    nano_cpus: int | None = None
    user: str = "0:0"  # the agent starts as root and drops to AGENT_USER (see AGENT_START_CAPS)
    pids_limit: int = PIDS_LIMIT
    # Join this network sandbox's namespace (its address is the environment's) instead of ``network``.
    sandbox_id: str | None = None
    sandbox_ip: str = ""
    # VpcConfig: no network at all (the agent answers on a unix socket in ``socket_dir``), or these named
    # Docker networks besides ``network``.
    no_network: bool = False
    socket_dir: Path | None = None
    extra_networks: tuple[str, ...] = ()
    oci_runtime: str = "runc"  # "runsc": gVisor
    # FileSystemConfigs: (host directory, mount path) pairs, mounted read-write.
    volumes: tuple[tuple[Path, str], ...] = ()
    # Started with the init boost (``nano_cpus`` one vCPU or more); the scheduler applies the
    # proportional share after the first invoke (``Environments.end_boost``).
    boosted: bool = False

    @staticmethod
    def cpu_for(memory_mb: int) -> int:
        """CPU in proportion to memory, as nano-CPUs (1 vCPU at 1 769 MB)."""
        return max(1, int(memory_mb * 1_000_000_000 / MB_PER_VCPU))


_PATH_FIELDS = ("agent_dir", "task_dir", "opt_dir", "socket_dir")


def spec_to_wire(spec: ContainerSpec) -> dict[str, Any]:
    """A ContainerSpec as JSON-able data, for the node that starts it on its own host (lamina.node)."""
    out: dict[str, Any] = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif f.name == "volumes":
            value = [[str(host), path] for host, path in value]
        elif isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def spec_from_wire(data: Mapping[str, Any]) -> ContainerSpec:
    """The ContainerSpec ``spec_to_wire`` wrote; ValueError when it is not one."""
    names = {f.name for f in fields(ContainerSpec)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown ContainerSpec fields {sorted(unknown)}")
    values = dict(data)
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            values[name] = Path(str(values[name]))
    values["extra_networks"] = tuple(values.get("extra_networks") or ())
    values["volumes"] = tuple((Path(str(h)), str(p)) for h, p in values.get("volumes") or ())
    try:
        return ContainerSpec(**values)
    except TypeError as err:
        raise ValueError(str(err)) from None


def _cfs(nano_cpus: int) -> dict[str, int]:
    """The CPU limit as a CFS period and quota.

    A 20 ms period instead of Docker's 100 ms: a small function (0.07 vCPU at 128 MB) that bursts is
    then paused for at most a few ms rather than up to 93 ms, which keeps warm-invoke tail latency low.
    (docker-py's update_container has no nano_cpus either.)
    """
    return {"cpu_period": CFS_PERIOD_US, "cpu_quota": max(1000, nano_cpus * CFS_PERIOD_US // 1_000_000_000)}


def _cgroup_parents() -> list[Path]:
    """Where Docker (cgroupfs driver) puts container cgroups: v1's cpu controller, or v2's unified tree."""
    return [CGROUP_ROOT / "cpu" / "docker", CGROUP_ROOT / "docker", CGROUP_ROOT / "system.slice"]


def _write_cpu_quota(container_id: str, quota_us: int, period_us: int) -> bool:
    """Write a CFS quota into the container's cgroup (v1 or v2); False when it is not found here."""
    v1 = CGROUP_ROOT / "cpu" / "docker" / container_id
    candidates = [(v1 / "cpu.cfs_period_us", str(period_us)), (v1 / "cpu.cfs_quota_us", str(quota_us))]
    for v2 in (CGROUP_ROOT / "docker" / container_id, CGROUP_ROOT / "system.slice" / f"docker-{container_id}.scope"):
        if (v2 / "cpu.max").exists():
            candidates = [(v2 / "cpu.max", f"{quota_us} {period_us}")]
            break
    try:
        for path, value in candidates:
            path.write_text(value)
    except OSError:
        return False
    return True


def _function_cgroup_v1(container_id: str) -> Path | None:
    """The container's cgroup v1 cpu directory on this host, if there is one."""
    path = CGROUP_ROOT / "cpu" / "docker" / container_id
    return path if (path / "cpu.cfs_quota_us").is_file() else None


def _uid_of(pid: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def split_function_cpu(container_id: str, quota_us: int, period_us: int) -> bool:
    """Put the function's processes of the container (the runtime's user) into a child cgroup limited to
    ``quota_us`` per ``period_us``; False where that cannot be done here (cgroup v2, a remote engine).

    New processes of the function inherit the child; the agent stays in the container's own cgroup.
    """
    parent = _function_cgroup_v1(container_id)
    if parent is None:
        return False
    child = parent / FUNCTION_CGROUP
    try:
        child.mkdir(exist_ok=True)
        # The child's quota may not exceed the parent's: the parent still has its boost (or more) here.
        (child / "cpu.cfs_period_us").write_text(str(period_us))
        (child / "cpu.cfs_quota_us").write_text(str(quota_us))
        if (child / "cpu.cfs_burst_us").is_file():
            # A function idle for a period may spend up to one more period's share at once (the average
            # stays its share): a sporadic invoke at 128 MB is not cut into 20 ms slices.
            (child / "cpu.cfs_burst_us").write_text(str(quota_us))
        for _ in range(5):  # again, for what forked while the others moved
            moving = [pid for pid in (parent / "cgroup.procs").read_text().split() if _uid_of(pid) == RUNTIME_UID]
            if not moving:
                break
            for pid in moving:
                try:
                    (child / "cgroup.procs").write_text(pid)
                except ProcessLookupError:
                    pass  # exited meanwhile
    except OSError as err:
        log.warning("cannot give the function of %s its own CPU cgroup: %s", container_id[:12], err)
        return False
    return True


def function_cpu_quota(container_id: str) -> tuple[int, int] | None:
    """(quota, period) in µs of the container's function cgroup, None when it has none."""
    parent = _function_cgroup_v1(container_id)
    child = parent / FUNCTION_CGROUP if parent is not None else None
    if child is None or not child.is_dir():
        return None
    return int((child / "cpu.cfs_quota_us").read_text()), int((child / "cpu.cfs_period_us").read_text())


def socket_dir(data_dir: Path, env_id: str) -> Path:
    """Where the agent of environment ``env_id`` without a network puts its socket (on the host)."""
    return data_dir / SOCKET_DIRS / env_id


def _socket_dir(path: Path) -> None:
    """The environment's own socket directory: root's, mode 0700. The agent makes its socket there while
    it is still root (before it drops to AGENT_USER); the runtime's user cannot even list it."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.chown(path, 0, 0)
        path.chmod(0o700)
    except PermissionError:  # not root: the platform's own user cannot hand it over
        path.chmod(0o777)


def env_labels(instance: str, env_id: str, function: str, version: str, pool: str) -> dict[str, str]:
    """The labels every environment container carries (adoption and clean-up select on them)."""
    return {
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: instance,
        LABEL_ENV: env_id,
        LABEL_FUNCTION: function,
        LABEL_VERSION: version,
        LABEL_POOL: pool,
    }


@dataclass(frozen=True)
class Started:
    container_id: str
    ip: str


@dataclass(frozen=True)
class ManagedContainer:
    container_id: str
    labels: Mapping[str, str]
    status: str  # running, paused, exited, created...
    mounts: tuple[str, ...] = ()  # host paths of its bind mounts


@dataclass(frozen=True)
class ImageInfo:
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    working_dir: str
    env: Mapping[str, str]


@dataclass
class DockerEnv:
    """Operations on execution-environment containers; ``client`` is a ``docker.DockerClient``."""

    client: Any
    _network_ready: set[str] = field(default_factory=set, repr=False)
    _images: dict[str, ImageInfo] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def api(self) -> Any:
        return self.client.api

    def _networks_named(self, name: str) -> list[dict[str, Any]]:
        """The network called exactly ``name``: Docker's name filter also matches names that contain it
        (``lamina`` would find compose's ``lamina_default``)."""
        return [n for n in self.api.networks(names=[name]) if n.get("Name") == name]

    def ensure_network(self, name: str) -> None:
        """Create the bridge network ``name`` if it does not exist (once per process)."""
        if name in self._network_ready:
            return
        with self._lock:
            if name in self._network_ready:
                return
            found = self._networks_named(name)
            if found and (found[0].get("Options") or {}).get(ICC_OPTION) != "false":
                log.warning("Docker network %s lets containers reach each other (enable_icc is not false); "
                            "remove it (docker network rm %s) and lamina recreates it isolated", name, name)
            if not found:
                try:
                    # enable_icc=false: containers on the bridge cannot reach each other; the host can
                    # still reach every container (the agent) and containers can reach the gateway.
                    self.api.create_network(name, driver="bridge", labels={LABEL_MANAGED: "1"},
                                            options={ICC_OPTION: "false"})
                except docker.errors.APIError as err:
                    # Another process created it between our check and our create.
                    if not self._networks_named(name):
                        raise ExecutorError(f"cannot create Docker network {name}: {err}") from err
            self._network_ready.add(name)

    def bridge_of(self, network: str) -> str:
        """The Linux bridge of Docker network ``network`` (br-<first 12 of its id>)."""
        self.ensure_network(network)
        found = self._networks_named(network)
        if not found:
            raise ExecutorError(f"Docker network {network} is gone")
        options = found[0].get("Options") or {}
        return str(options.get("com.docker.network.bridge.name") or f"br-{found[0]['Id'][:12]}")

    def start_sandbox(self, image: str, network: str, instance: str) -> Started:
        """Start a network sandbox: a tiny container whose only job is to own a network namespace on
        ``network`` that one environment joins later (Kubernetes' pause container). Setting up the
        namespace is ~150 ms of a bridge container's start; done ahead, a cold start skips it.
        """
        self.ensure_network(network)
        host_config = self.api.create_host_config(
            network_mode=network, read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=16 * 1024 * 1024, memswap_limit=16 * 1024 * 1024, pids_limit=8, extra_hosts=SANDBOX_HOSTS,
        )
        try:
            cid = self.api.create_container(
                image=image, entrypoint=["sleep", "infinity"], command=[], user=SANDBOX_USER,
                labels={LABEL_MANAGED: "1", LABEL_INSTANCE: instance, LABEL_ROLE: SANDBOX_ROLE,
                        LABEL_CREATED: str(int(time.time()))},
                host_config=host_config, detach=True, name=f"lamina-sandbox-{secrets.token_hex(6)}",
            )["Id"]
        except docker.errors.APIError as err:
            raise ExecutorError(f"cannot create a network sandbox: {err.explanation or err}") from err
        try:
            self.api.start(cid)
            info = self.api.inspect_container(cid)
        except docker.errors.APIError as err:
            self.remove(cid)
            raise ExecutorError(f"cannot start a network sandbox: {err.explanation or err}") from err
        ip = (info["NetworkSettings"]["Networks"].get(network) or {}).get("IPAddress") or ""
        if not ip:
            self.remove(cid)
            raise ExecutorError(f"network sandbox {cid[:12]} has no address on {network}")
        return Started(cid, ip)

    def start(self, spec: ContainerSpec) -> Started:
        """Create and start a container for ``spec``; return its id and IP (on ``spec.network``, or its
        sandbox's).

        Raises ExecutorError; a container that was created but failed to start is removed.
        """
        if spec.sandbox_id is None and not spec.no_network:
            self.ensure_network(spec.network)
        mounts = [
            Mount(AGENT_MOUNT, str(spec.agent_dir), type="bind", read_only=True),
        ]
        environment = dict(spec.environment)
        environment.update(LAMINA_RUNTIME_USER=SANDBOX_USER, LAMINA_AGENT_USER=AGENT_USER)
        if spec.no_network:
            if spec.socket_dir is None:
                raise ExecutorError("an environment without a network needs a socket directory")
            _socket_dir(spec.socket_dir)
            mounts.append(Mount(SOCKET_MOUNT, str(spec.socket_dir), type="bind", read_only=False))
            environment["LAMINA_AGENT_SOCKET"] = f"{SOCKET_MOUNT}/agent.sock"
        if spec.task_dir is not None:
            mounts.append(Mount("/var/task", str(spec.task_dir), type="bind", read_only=True))
        if spec.opt_dir is not None:
            mounts.append(Mount("/opt", str(spec.opt_dir), type="bind", read_only=True))
        for host_dir, target in spec.volumes:
            mounts.append(Mount(target, str(host_dir), type="bind", read_only=False))
        host_config = self.api.create_host_config(
            mounts=mounts,
            # MemorySize is the function's; the agent's own memory comes on top. No swap: at the limit the
            # kernel OOM-kills, as Lambda does.
            mem_limit=(spec.memory_mb + AGENT_MEMORY_MB) * 1024 * 1024,
            memswap_limit=(spec.memory_mb + AGENT_MEMORY_MB) * 1024 * 1024,
            **(_cfs(spec.nano_cpus) if spec.nano_cpus else {}),
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={spec.tmp_mb}m,mode=1777"},
            read_only=True,
            cap_drop=["ALL"],
            cap_add=AGENT_START_CAPS if spec.user == "0:0" else None,
            security_opt=["no-new-privileges"],
            pids_limit=spec.pids_limit + (GVISOR_PIDS if spec.oci_runtime == "runsc" else 0),
            runtime=spec.oci_runtime,
            network_mode="none" if spec.no_network else (
                f"container:{spec.sandbox_id}" if spec.sandbox_id else spec.network),
            # A joined sandbox's /etc/hosts already has them (Docker refuses both).
            extra_hosts=None if spec.sandbox_id else SANDBOX_HOSTS,
            init=False,
        )
        try:
            created = self.api.create_container(
                image=spec.image,
                entrypoint=list(AGENT_ENTRYPOINT),
                command=[],
                environment=environment,
                user=spec.user,
                labels=dict(spec.labels),
                host_config=host_config,
                working_dir=spec.working_dir,
                name=spec.name,
                detach=True,
            )
        except docker.errors.APIError as err:
            self._raise_if_sandbox_lost(spec, err)
            raise ExecutorError(f"cannot create container for {spec.image}: {err.explanation or err}") from err
        cid = created["Id"]
        try:
            for name in spec.extra_networks:  # the VPC analogue: attached before start, set up with it
                self.api.connect_container_to_network(cid, name)
            self.api.start(cid)
            if spec.sandbox_id:
                return Started(cid, spec.sandbox_ip)
            if spec.no_network:
                return Started(cid, f"{UNIX_ADDRESS}{spec.socket_dir}/agent.sock")
            info = self.api.inspect_container(cid)
        except docker.errors.APIError as err:
            self.remove(cid)
            self._raise_if_sandbox_lost(spec, err)
            raise ExecutorError(f"cannot start container for {spec.image}: {err.explanation or err}") from err
        ip = (info["NetworkSettings"]["Networks"].get(spec.network) or {}).get("IPAddress") or ""
        if not ip:
            self.remove(cid)
            raise ExecutorError(f"container {cid[:12]} has no address on network {spec.network}")
        return Started(cid, ip)

    def _raise_if_sandbox_lost(self, spec: ContainerSpec, err: docker.errors.APIError) -> None:
        """SandboxLost when ``spec`` was to join a sandbox that no longer runs (the cause of ``err``)."""
        if spec.sandbox_id and self.sandbox_gone(spec.sandbox_id):
            raise SandboxLost(f"network sandbox {spec.sandbox_id[:12]} is gone: {err.explanation or err}") from err

    def sandbox_gone(self, sandbox_id: str) -> bool:
        """Whether the network sandbox ``sandbox_id`` no longer runs (False when Docker cannot say)."""
        try:
            return not self.api.inspect_container(sandbox_id)["State"]["Running"]
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            return False

    def container_removed(self, container_id: str) -> bool:
        """Whether ``container_id`` is no longer known to the engine (removed, not merely stopped)."""
        try:
            self.api.inspect_container(container_id)
            return False
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            return False

    def network_labels(self, name: str) -> dict[str, str] | None:
        """The labels of Docker network ``name``; None if there is no such network."""
        try:
            info = self.api.inspect_network(name)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as err:
            raise ExecutorError(f"cannot inspect network {name}: {err.explanation or err}") from err
        return dict(info.get("Labels") or {})

    def limit_cpu(self, container_id: str, nano_cpus: int, oci_runtime: str = "runc") -> None:
        """Apply the proportional CPU limit after init (see ``init_boost`` in ``lamina.scheduler.environments``).

        runsc has no ``update``: its containers get the quota written into their cgroup on this host.
        """
        cfs = _cfs(nano_cpus)
        if oci_runtime == "runsc":
            if not _write_cpu_quota(container_id, cfs["cpu_quota"], cfs["cpu_period"]):
                log.warning("cannot limit CPU of gVisor container %s: no cgroup of it on this host", container_id[:12])
            return
        if split_function_cpu(container_id, cfs["cpu_quota"], cfs["cpu_period"]):
            cfs = _cfs(nano_cpus + PLATFORM_NANO_CPUS)  # the whole container: the share and the agent's
        try:
            self.api.update_container(container_id, **cfs)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as err:
            log.warning("cannot limit CPU of %s: %s", container_id[:12], err)

    def set_memory(self, container_id: str, memory_mb: int) -> None:
        """Give a running container (a claimed stem cell) the function's memory limit; raise ExecutorError."""
        limit = (memory_mb + AGENT_MEMORY_MB) * 1024 * 1024
        try:
            self.api.update_container(container_id, mem_limit=limit, memswap_limit=limit)
        except docker.errors.APIError as err:
            raise ExecutorError(f"cannot set the memory of {container_id[:12]}: {err.explanation or err}") from err

    @staticmethod
    def cpu_limit_later(oci_runtime: str) -> bool:
        """Whether a container of ``oci_runtime`` can get its CPU limit after it started (the init boost):
        always under runc; under runsc only when the engine's cgroups are this host's."""
        return oci_runtime != "runsc" or any(p.is_dir() for p in _cgroup_parents())

    def pause(self, container_id: str) -> None:
        try:
            self.api.pause(container_id)
        except docker.errors.APIError as err:
            raise ExecutorError(f"cannot pause {container_id[:12]}: {err.explanation or err}") from err

    def unpause(self, container_id: str) -> None:
        try:
            self.api.unpause(container_id)
        except docker.errors.APIError as err:
            if err.status_code == 409 and "not paused" in str(err.explanation or err):
                return
            raise ExecutorError(f"cannot unpause {container_id[:12]}: {err.explanation or err}") from err

    def stop(self, container_id: str, timeout_s: int) -> None:
        """SIGTERM (thawing a paused container first), SIGKILL after ``timeout_s``; errors are left to the
        removal that follows."""
        try:
            self.api.unpause(container_id)
        except docker.errors.APIError:
            pass  # not paused
        try:
            self.api.stop(container_id, timeout=timeout_s)
        except (docker.errors.APIError, requests.RequestException) as err:
            log.info("cannot stop %s before removing it: %s", container_id[:12], err)

    def remove(self, container_id: str) -> bool:
        """Force-remove a container (paused ones too); True if it existed."""
        try:
            self.api.remove_container(container_id, force=True, v=True)
            return True
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as err:
            if err.status_code == 409:  # removal already in progress
                return True
            raise ExecutorError(f"cannot remove {container_id[:12]}: {err.explanation or err}") from err

    def list_managed(self, instance: str | None = None, extra: Iterable[str] = ()) -> list[ManagedContainer]:
        """Every container labelled ``lamina.managed`` (of ``instance`` when given), in any status."""
        filters = [f"{LABEL_MANAGED}=1", *extra]
        if instance is not None:
            filters.append(f"{LABEL_INSTANCE}={instance}")
        found = self.api.containers(all=True, filters={"label": filters})
        return [
            ManagedContainer(c["Id"], c.get("Labels") or {}, c.get("State") or "",
                             tuple(m.get("Source") or "" for m in c.get("Mounts") or ()))
            for c in found
        ]

    def image_info(self, image: str) -> ImageInfo:
        """ENTRYPOINT, CMD, WORKDIR and ENV of a local image (cached per process).

        Raises ExecutorError when the image is not present.
        """
        cached = self._images.get(image)
        if cached is not None:
            return cached
        try:
            cfg = self.api.inspect_image(image).get("Config") or {}
        except docker.errors.ImageNotFound as err:
            raise ExecutorError(f"image {image} is not present on the Docker engine") from err
        except docker.errors.APIError as err:
            raise ExecutorError(f"cannot inspect image {image}: {err.explanation or err}") from err
        env = dict(item.split("=", 1) for item in (cfg.get("Env") or []) if "=" in item)
        info = ImageInfo(
            tuple(cfg.get("Entrypoint") or ()), tuple(cfg.get("Cmd") or ()), cfg.get("WorkingDir") or "", env
        )
        self._images[image] = info
        return info

    def image_infos(self) -> dict[str, ImageInfo]:
        """Every tagged image of the engine, by tag and by id (a node's heartbeat publishes them)."""
        out: dict[str, ImageInfo] = {}
        try:
            listed = self.api.images()
        except (docker.errors.APIError, requests.RequestException) as err:
            raise ExecutorError(f"cannot list images: {err}") from err
        for image in listed:
            tags = [t for t in image.get("RepoTags") or () if t and t != "<none>:<none>"]
            if not tags:
                continue
            try:
                info = self.image_info(image["Id"])
            except ExecutorError:
                continue
            for name in (*tags, image["Id"]):
                out[name] = info
        return out

    def image_exists(self, image: str) -> bool:
        try:
            self.api.inspect_image(image)
            return True
        except docker.errors.ImageNotFound:
            return False
