"""A fleet on this machine: Docker engines each in a network namespace of its own, with its own address on a
bridge made here, its own data root, containerd and socket, the runtime images loaded into each; a `lamina
node` per engine; PostgreSQL, Redis (a master, a replica and three Sentinels) on the bridge's address; two
API processes and a worker placing on the nodes (LAMINA_PLACEMENT=fleet).

Host i is namespace ``lamina-fleet-i`` at 10.77.0.(i+1); its engine gives function networks addresses from
10.20i.0.0/16, routed here through that address.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import redis as redis_lib
from botocore.config import Config
from cryptography.fernet import Fernet

from support.servers import PostgresCluster, RedisServer, free_port

BRIDGE, GATEWAY, PREFIX = "lamfleet0", "10.77.0.1", "lamina-fleet"
IMAGES = ("lamina/python:latest", "lamina/base:bookworm")
MASTER = "lamina"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - not yet
            pass
        time.sleep(interval)
    return False


@dataclass
class Host:
    index: int
    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    node: subprocess.Popen[bytes] | None = None

    @property
    def ns(self) -> str:
        return f"{PREFIX}-{self.index}"

    @property
    def address(self) -> str:
        return f"10.77.0.{self.index + 1}"

    @property
    def node_id(self) -> str:
        return f"n{self.index}"

    @property
    def socket(self) -> str:
        return f"unix://{self.root}/docker.sock"

    @property
    def veth(self) -> str:
        return f"lamfv{self.index}"

    def netns(self, *argv: str) -> list[str]:
        # nsenter, not `ip netns exec`: that remounts /sys for the namespace, and the engine then finds no
        # cgroups; only the network is the host's own.
        return ["nsenter", f"--net=/var/run/netns/{self.ns}", *argv]

    def docker(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("docker", "-H", self.socket, *argv, check=check)


class Fleet:
    def __init__(self, hosts: int = 3, apis: int = 2) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lamina-fleet-"))
        self.hosts = [Host(i, self.tmp / f"host{i}") for i in range(1, hosts + 1)]
        self.api_ports = [free_port() for _ in range(apis)]
        self.apis: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.master_key = Fernet.generate_key().decode()
        self.logs: list[Any] = []

    # -- networking and engines

    def _network(self) -> None:
        self._teardown_network()
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Docker's FORWARD policy is DROP on this host: let the fleet bridge's hosts talk to each other.
        for rule in (["-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"],):
            if sh("iptables", "-w", "-C", "FORWARD", *rule, check=False).returncode != 0:
                sh("iptables", "-w", "-I", "FORWARD", "1", *rule)
        for h in self.hosts:
            sh("ip", "netns", "add", h.ns)
            sh("ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
            sh("ip", "link", "set", h.veth, "master", BRIDGE, "up")
            sh(*h.netns("ip", "addr", "add", f"{h.address}/24", "dev", "eth0"))
            sh(*h.netns("ip", "link", "set", "eth0", "up"))
            sh(*h.netns("ip", "link", "set", "lo", "up"))
            sh(*h.netns("ip", "route", "add", "default", "via", GATEWAY))
            sh("ip", "route", "replace", f"10.20{h.index}.0.0/16", "via", h.address)

    def _teardown_network(self) -> None:
        for h in self.hosts:
            sh("ip", "route", "del", f"10.20{h.index}.0.0/16", check=False)
            sh("ip", "netns", "del", h.ns, check=False)
            sh("ip", "link", "del", h.veth, check=False)
        sh("ip", "link", "del", BRIDGE, check=False)

    def start_engine(self, h: Host) -> None:
        h.root.mkdir(parents=True, exist_ok=True)
        (h.root / "daemon.json").write_text("{}")
        log = open(h.root / "engine.log", "ab")  # noqa: SIM115 - closed in stop()
        self.logs.append(log)
        containerd = subprocess.Popen(h.netns(
            "containerd", "--root", str(h.root / "containerd"), "--state", str(h.root / "containerd-state"),
            "--address", str(h.root / "containerd.sock")), stdout=log, stderr=subprocess.STDOUT)
        assert wait_for(lambda: (h.root / "containerd.sock").exists(), 20), "containerd did not start"
        dockerd = subprocess.Popen(h.netns(
            "dockerd", "--config-file", str(h.root / "daemon.json"), "--data-root", str(h.root / "docker"),
            "--exec-root", str(h.root / "exec"), "--pidfile", str(h.root / "docker.pid"),
            "-H", h.socket, "--containerd", str(h.root / "containerd.sock"),
            "--bip", f"10.19{h.index}.0.1/24", "--default-address-pool", f"base=10.20{h.index}.0.0/16,size=24",
        ), stdout=log, stderr=subprocess.STDOUT)
        h.procs = [containerd, dockerd]
        assert wait_for(lambda: dockerd.poll() is None and h.docker("info", check=False).returncode == 0
                        or dockerd.poll() is not None, 60, 0.25) and dockerd.poll() is None, \
            (h.root / "engine.log").read_text()[-3000:]

    def load_images(self) -> None:
        tar = self.tmp / "images.tar"
        sh("docker", "save", "-o", str(tar), *IMAGES)
        loads = [subprocess.Popen(["docker", "-H", h.socket, "load", "-q", "-i", str(tar)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for h in self.hosts]
        for p in loads:
            assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
        tar.unlink()

    # -- state stores

    def _stores(self) -> None:
        self.pg = PostgresCluster(host=GATEWAY)
        self.pg.start()
        (self.tmp / "redis-a").mkdir()
        (self.tmp / "redis-b").mkdir()
        # Not loopback: the fleet's hosts connect from their own addresses (a test network of this machine).
        self.redis_a = RedisServer(self.tmp / "redis-a", fsync="always", host=GATEWAY,
                                   extra=("--protected-mode", "no"))
        self.redis_a.start()
        self.redis_b = RedisServer(self.tmp / "redis-b", fsync="always", host=GATEWAY,
                                   extra=("--protected-mode", "no", "--replicaof", GATEWAY, str(self.redis_a.port)))
        self.redis_b.start()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = []
        for port in self.sentinel_ports:
            conf = self.tmp / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind {GATEWAY}\nprotected-mode no\nsentinel resolve-hostnames no\n"
                f"sentinel monitor {MASTER} {GATEWAY} {self.redis_a.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\nsentinel failover-timeout {MASTER} 5000\n")
            self.sentinels.append(subprocess.Popen([shutil.which("redis-server") or "redis-server", str(conf),
                                                    "--sentinel"], stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
        for port in self.sentinel_ports:
            assert wait_for(lambda port=port: redis_lib.Redis(host=GATEWAY, port=port).ping(), 10)

    @property
    def redis_url(self) -> str:
        return "redis+sentinel://" + ",".join(f"{GATEWAY}:{p}" for p in self.sentinel_ports) + f"/{MASTER}/0"

    def redis(self) -> redis_lib.Redis:
        from lamina.wiring import redis_client

        return redis_client(self.redis_url)

    def master_port(self) -> int:
        addr = redis_lib.Redis(host=GATEWAY, port=self.sentinel_ports[0]).sentinel_get_master_addr_by_name(MASTER)
        return int(addr[1])

    # -- lamina

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "DOCKER_"))}
        env.update(dict(
            LAMINA_DATABASE_URL=self.pg.url, LAMINA_REDIS_URL=self.redis_url, LAMINA_CODE_STORE="postgres",
            LAMINA_LOG_STORE="postgres",
            LAMINA_MASTER_KEY=self.master_key, LAMINA_INSTANCE="fleet", LAMINA_MIGRATE_ON_START="0",
            LAMINA_IDLE_TIMEOUT="600", LAMINA_FREEZE_AFTER="600", LAMINA_ASYNC_RETRY_DELAYS="0.5,0.5",
            # 5 s: with appendfsync always, a busy disk (images loading into three engines) stalls Redis.
            LAMINA_NODE_TTL="5", LAMINA_LOG_LEVEL="INFO", LAMINA_REDIS_MIN_REPLICAS="1",
        ), **extra)
        return env

    def _lamina(self, argv: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / log_name, "ab")  # noqa: SIM115 - closed in stop()
        self.logs.append(log)
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_node(self, h: Host) -> None:
        env = self.env(LAMINA_NODE_ID=h.node_id, LAMINA_NODE_ADDRESS=h.address, DOCKER_HOST=h.socket,
                       LAMINA_DATA_DIR=str(h.root / "data"), LAMINA_CONTROL_CIDR=f"{GATEWAY}/32",
                       LAMINA_FLEET_CIDR="10.200.0.0/13", LAMINA_STEM_CELLS="4", LAMINA_SANDBOXES="2",
                       LAMINA_MEMORY_BUDGET_MB="4096", LAMINA_PORT=str(self.api_ports[0]),
                       LAMINA_FREEZE_AFTER="3")  # idle environments are paused soon: thaws go through the node
        h.node = self._lamina(h.netns(sys.executable, "-m", "lamina", "node"), env, f"node-{h.index}.log")

    def node_log(self, h: Host) -> str:
        return (self.tmp / f"node-{h.index}.log").read_text(errors="replace")[-4000:]

    def api_env(self, port: int) -> dict[str, str]:
        return self.env(LAMINA_PLACEMENT="fleet", LAMINA_HOST=GATEWAY, LAMINA_PORT=str(port),
                        # One endpoint for functions (as a load balancer's would be): the first API's.
                        LAMINA_PUBLIC_URL=f"http://{GATEWAY}:{self.api_ports[0]}",
                        LAMINA_DATA_DIR=str(self.tmp / "api"))

    def start(self) -> Fleet:
        try:
            self._network()
            for h in self.hosts:
                self.start_engine(h)
            self.load_images()
            self._stores()
            base = [sys.executable, "-m", "lamina"]
            env = self.api_env(self.api_ports[0])
            sh_env = subprocess.run([*base, "db", "upgrade"], env=env, capture_output=True, text=True)
            assert sh_env.returncode == 0, sh_env.stderr
            done = subprocess.run([*base, "admin", "bootstrap", "--json"], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            self.creds = json.loads(done.stdout)
            for h in self.hosts:
                self.start_node(h)
            for i, port in enumerate(self.api_ports):
                self.apis.append(self._lamina([*base, "serve", "--workers", "1", "--threads", "16"],
                                              self.api_env(port), f"api-{i}.log"))
            self.workers.append(self._lamina([*base, "worker"], self.api_env(self.api_ports[0]), "worker.log"))
            assert wait_for(lambda: len(self.live_nodes()) == len(self.hosts), 60, 0.25), \
                [self.node_log(h) for h in self.hosts]
            for port in self.api_ports:
                assert wait_for(lambda port=port: self.lambda_client(port).list_functions() is not None, 60, 0.25)
        except BaseException:
            self.stop()
            raise
        return self

    def start_api_on(self, h: Host) -> int:
        """An API process inside host ``h``'s namespace (its environments there are on the same host)."""
        port = free_port()
        env = self.api_env(port)
        env.update(LAMINA_HOST=h.address, LAMINA_PUBLIC_URL=f"http://{h.address}:{port}")
        self.apis.append(self._lamina(h.netns(sys.executable, "-m", "lamina", "serve", "--workers", "1",
                                              "--threads", "16"), env, f"api-on-{h.index}.log"))
        assert wait_for(lambda: self.lambda_client(port, host=h.address).list_functions() is not None, 60, 0.25)
        return port

    def live_nodes(self) -> list[str]:
        from lamina.scheduler.fleet import Registry

        now = time.time()
        return [n.node_id for n in Registry(self.redis()).nodes() if n.alive(now, 5.0)]

    def lambda_client(self, port: int | None = None, service: str = "lambda", host: str = GATEWAY) -> Any:
        return boto3.client(
            service, endpoint_url=f"http://{host}:{port or self.api_ports[0]}", region_name="us-east-1",
            aws_access_key_id=self.creds["AccessKeyId"], aws_secret_access_key=self.creds["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}, read_timeout=70, connect_timeout=5),
        )

    def kill_host(self, h: Host) -> None:
        """The host is gone: every process in its namespace SIGKILLed (node, engine, containers), its link down."""
        pids = sh("ip", "netns", "pids", h.ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "link", "set", h.veth, "down", check=False)
        for p in [*h.procs, *([h.node] if h.node else [])]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        h.node = None

    def revive_host(self, h: Host) -> None:
        sh("ip", "link", "set", h.veth, "up")
        for stale in ("docker.pid", "containerd.sock", "docker.sock"):
            (h.root / stale).unlink(missing_ok=True)
        self.start_engine(h)
        self.start_node(h)

    def stop(self) -> None:
        for p in [*self.apis, *self.workers]:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for h in self.hosts:
            if h.node is not None:
                try:
                    os.killpg(h.node.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for pid in sh("ip", "netns", "pids", h.ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for s in getattr(self, "sentinels", []):
            s.kill()
        for r in ("redis_a", "redis_b"):
            if hasattr(self, r):
                getattr(self, r).stop()
        if hasattr(self, "pg"):
            self.pg.stop()
            self.pg.remove()
        time.sleep(0.5)
        for h in self.hosts:  # the engines' mounts (overlay, shm) go with their processes; then the files
            for line in Path("/proc/mounts").read_text().splitlines():
                mnt = line.split()[1]
                if mnt.startswith(str(h.root)):
                    sh("umount", "-l", mnt, check=False)
        self._teardown_network()
        for log in self.logs:
            log.close()
        keep = Path(tempfile.gettempdir()) / "lamina-fleet-logs"  # the last run's logs, for a failure's reader
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir()
        for path in [*self.tmp.glob("*.log"), *self.tmp.glob("host*/engine.log")]:
            shutil.copy(path, keep / path.name if path.parent == self.tmp else keep / f"{path.parent.name}.log")
        shutil.rmtree(self.tmp, ignore_errors=True)
