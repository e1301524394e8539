"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


def credentials(env: dict[str, str]) -> str | None:
    """An admin key for a fresh install: the file a new install writes, else ``lamina admin bootstrap``."""
    path = Path(env["LAMINA_DATA_DIR"]) / "admin-credentials.json"
    if not path.exists():
        done = subprocess.run([sys.executable, "-m", "lamina", "admin", "bootstrap", "--json"], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            return None
        doc = json.loads(done.stdout)
    else:
        doc = json.loads(path.read_text())
    return f"{doc['AccessKeyId']}:{doc['SecretAccessKey']}"


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_install(prefix: str) -> tuple[Path, dict[str, str], Any, int]:
    """A throw-away lamina install for one benchmark run: (data dir, environment for its processes,
    the embedded redis-server process or None when LAMINA_REDIS_URL is set, the API port)."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    env = dict(os.environ, LAMINA_DATA_DIR=str(data_dir), LAMINA_INSTANCE=f"bench-{uuid.uuid4().hex[:6]}",
               LAMINA_MIGRATE_ON_START="true")
    redis_proc = None
    if not env.get("LAMINA_REDIS_URL"):
        from lamina.embedded import start_redis

        redis_proc, env["LAMINA_REDIS_URL"] = start_redis(data_dir)
    port = free_port()
    env["LAMINA_PORT"] = str(port)
    return data_dir, env, redis_proc, port


def wait_health(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``lamina serve`` on ``port`` answers /health; stop with its log's name if it exits."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lamina serve exited with {proc.returncode}; see {log}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("lamina serve did not answer /health within 60 s")


def docker_runs(client: Any, image: str, argv: list[str], n: int, runtime: str | None = None) -> list[float]:
    """``n`` times ``docker run --rm`` of ``image`` running ``argv`` to exit, in ms: the baseline a
    container-per-invoke platform pays at best (``runtime``: the OCI runtime, e.g. runsc)."""
    took = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.containers.run(image, entrypoint=argv[:1], command=argv[1:], remove=True, runtime=runtime,
                              labels={"lamina.bench": "1"})
        took.append((time.perf_counter() - t0) * 1000)
    return took
