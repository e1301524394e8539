"""The embedded default: with no URLs configured, lamina keeps a SQLite file and runs a child redis-server
under LAMINA_DATA_DIR, so a newcomer needs nothing but Docker (and the redis-server binary)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis


class EmbeddedRedisError(RuntimeError):
    pass


def start_redis(data_dir: Path, timeout_s: float = 10.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start redis-server on a unix socket in ``data_dir/redis``; return the process and its URL.

    Persistence (AOF, fsync every second) is on, so accepted async events survive a restart.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise EmbeddedRedisError(
            "redis-server is not installed: run `apt-get install -y redis-server` or set LAMINA_REDIS_URL"
        )
    rdir = data_dir / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    sock = rdir / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(rdir),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--logfile", str(rdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"unix://{sock}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited with {proc.returncode}; see {rdir / 'redis.log'}")
        try:
            if redis.Redis.from_url(url).ping():
                return proc, url
        except redis.RedisError:
            time.sleep(0.05)
    proc.terminate()
    raise EmbeddedRedisError(f"redis-server did not answer within {timeout_s} s; see {rdir / 'redis.log'}")
