"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
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
