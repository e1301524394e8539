"""Throw-away PostgreSQL and Redis servers of a test's own, to stop and start under a running lamina."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis as redis_lib


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """initdb + pg_ctl in a directory of its own (as the postgres user when we are root: initdb refuses root;
    pytest's temporary directories are private to root, so it lives directly under /tmp)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "PostgreSQL is not installed (scripts/test installs it)"
        self.bin = bins[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="lamina-test-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(f"{self.bin}/initdb -D {self.dir} -A trust -U postgres")
        if host != "127.0.0.1":  # a test network's hosts connect from its /24
            with open(self.dir / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {host.rsplit('.', 1)[0]}.0/24 trust\n")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@{self.host}:{self.port}/postgres"

    def _run(self, command: str) -> None:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", command] if os.geteuid() == 0 else ["sh", "-c", command]
        subprocess.run(argv, check=True, capture_output=True)

    def start(self) -> None:
        self._run(f"{self.bin}/pg_ctl -D {self.dir} -l {self.dir}/log -w "
                  f"-o '-p {self.port} -k /tmp -c fsync=off -c listen_addresses={self.host} "
                  f"-c max_connections=200' start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(f"{self.bin}/pg_ctl -D {self.dir} -m {mode} -w stop")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self, directory: Path, fsync: str = "everysec", host: str = "127.0.0.1",
                 extra: tuple[str, ...] = ()) -> None:
        self.directory, self.port, self.fsync, self.host, self.extra = directory, free_port(), fsync, host, extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", self.host,
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", self.fsync, "--save", "",
             *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        r = redis_lib.Redis(host=self.host, port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if r.ping():
                    return
            except redis_lib.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)


class ServedLamina:
    """`lamina serve` on a PostgreSQL cluster and a Redis server of its own (so a test may stop either), with
    the schema migrated and an admin key; ``stop`` ends all three."""

    def __init__(self, tmp_path: Path, instance: str, extra_env: dict[str, str] | None = None) -> None:
        self.pg = PostgresCluster()
        self.pg.start()
        (tmp_path / "redis").mkdir()
        self.redis = RedisServer(tmp_path / "redis")
        self.redis.start()
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        self.env.update(LAMINA_DATA_DIR=str(tmp_path / "data"), LAMINA_DATABASE_URL=self.pg.url,
                        LAMINA_REDIS_URL=self.redis.url, LAMINA_PORT=str(self.port), LAMINA_INSTANCE=instance,
                        **(extra_env or {}))
        lamina = [sys.executable, "-m", "lamina"]
        subprocess.run([*lamina, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        self.creds = json.loads(subprocess.run([*lamina, "admin", "bootstrap", "--json"], env=self.env,
                                               check=True, capture_output=True, text=True).stdout)
        self.token = f"{self.creds['AccessKeyId']}:{self.creds['SecretAccessKey']}"
        self.log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*lamina, "serve", "--workers", "1", "--threads", "16"], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        self.redis.stop()
        self.pg.stop()
        self.pg.remove()
