"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path


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
