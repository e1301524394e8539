"""Go on provided.al2023 (issue 13): a bootstrap binary built here from a Go program with Debian's Go
toolchain (scripts/services.sh go installs it), zipped as Lambda's Go guide says, runs unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.functions import Functions
from support.invoking import invoke

SOURCE = Path(__file__).resolve().parents[1] / "fixtures" / "go-bootstrap" / "main.go"


def test_a_go_bootstrap_built_with_debians_toolchain_runs_on_provided_al2023(
    client: Any, fns: Functions, tmp_path: Path,
) -> None:
    go = shutil.which("go")
    assert go, "Debian's Go toolchain is missing: scripts/services.sh go installs golang-go"
    env = {**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "GO111MODULE": "off",
           "GOCACHE": str(tmp_path / "cache"), "GOPATH": str(tmp_path / "gopath"), "HOME": str(tmp_path)}
    subprocess.run([go, "build", "-o", str(tmp_path / "bootstrap"), str(SOURCE)], env=env, check=True,
                   capture_output=True, timeout=600)
    fns.create("go-fn", {"bootstrap": (tmp_path / "bootstrap").read_bytes()}, runtime="provided.al2023",
               handler="unused", executable=["bootstrap"])
    first = invoke(client, "go-fn", {"n": 1})
    assert first.status_code == 200, first.get_data(as_text=True)
    out = first.get_json()
    assert out["count"] == 1 and out["event"] == {"n": 1} and out["go"].startswith("go1."), out
    assert invoke(client, "go-fn", {}).get_json()["count"] == 2  # warm: the same process
    failed = invoke(client, "go-fn", {"fail": True})
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.get_json() == {"errorMessage": "go boom", "errorType": "GoError"}
