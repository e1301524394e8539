"""Throw-away PostgreSQL and Redis servers of a test's own, to stop and start under a running lamina."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
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

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "PostgreSQL is not installed (scripts/test installs it)"
        self.bin = bins[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="lamina-test-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(f"{self.bin}/initdb -D {self.dir} -A trust -U postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: str) -> None:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", command] if os.geteuid() == 0 else ["sh", "-c", command]
        subprocess.run(argv, check=True, capture_output=True)

    def start(self) -> None:
        self._run(f"{self.bin}/pg_ctl -D {self.dir} -l {self.dir}/log -w "
                  f"-o '-p {self.port} -k /tmp -c fsync=off' start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(f"{self.bin}/pg_ctl -D {self.dir} -m {mode} -w stop")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self, directory: Path, fsync: str = "everysec") -> None:
        self.directory, self.port, self.fsync = directory, free_port(), fsync
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", self.fsync, "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        r = redis_lib.Redis(port=self.port)
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
