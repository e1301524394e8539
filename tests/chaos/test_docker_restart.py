"""The Docker engine restarted under a running `lamina serve`: while it is down an invoke answers (an error,
never a hang past its timeout); once it is back the dead environment is forgotten and a new one starts.

dockerd is restarted the way scripts/services.sh starts it (the same command line, in a session of its
own); the test waits for it to answer again whatever happens, so the tests after it find it running.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from support.servers import ServedLamina
from test_dependencies import _until

pytestmark = [pytest.mark.docker, pytest.mark.engine_restart]

APP = "def handler(event, context):\n    return {'pid': __import__('os').getpid()}\n"


def _dockerd() -> tuple[int, list[str]]:
    out = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    assert out, "dockerd is not running (scripts/test starts it)"
    pid = int(out[0])
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    return pid, [a.decode() for a in argv]


def _engine_answers() -> bool:
    try:
        return bool(docker.from_env(timeout=5).ping())
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


@pytest.fixture
def restartable_engine(tmp_path: Path) -> Iterator[Any]:
    if os.geteuid() != 0:
        pytest.fail("restarting dockerd needs root (CI and scripts/test run as root)")
    pid, argv = _dockerd()
    log = open(tmp_path / "dockerd.log", "ab")  # noqa: SIM115 - the new dockerd keeps it

    def restart(down_s: float, while_down: Any) -> Any:
        os.kill(pid, signal.SIGTERM)
        _until(lambda: not Path(f"/proc/{pid}").exists(), 60)
        Path("/var/run/docker.pid").unlink(missing_ok=True)
        try:
            result = while_down()
            time.sleep(down_s)
        finally:
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            _until(_engine_answers, 90)
        return result

    yield restart
    if not _engine_answers():  # whatever happened, leave an engine for the tests after this one
        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _until(_engine_answers, 90)


def _invoke(port: int, token: str, timeout: float = 60) -> tuple[int, str, float]:
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/2015-03-31/functions/survivor/invocations", body=b"{}",
                     headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read().decode()
        return resp.status, resp.getheader("X-Amz-Function-Error") or body[:200], time.monotonic() - t0
    finally:
        conn.close()


def test_an_engine_restart_leaves_no_hang_and_no_dead_environment(tmp_path: Path, restartable_engine: Any) -> None:
    lamina = ServedLamina(tmp_path, f"engine-{os.getpid()}", {"LAMINA_SANDBOXES": "0"})
    port, token = lamina.port, lamina.token
    try:
        _until(lambda: _invoke_health(port), 60)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", APP)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/2015-03-31/functions", body=json.dumps({
            "FunctionName": "survivor", "Runtime": "python3.11", "Handler": "app.handler", "Timeout": 3,
            "Role": f"arn:aws:iam::{lamina.creds['AccountId']}:role/x",
            "Code": {"ZipFile": base64.b64encode(buf.getvalue()).decode()}}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert conn.getresponse().status == 201
        status, detail, _took = _invoke(port, token)
        assert status == 200, detail  # a warm environment now

        # While the engine is down: the warm environment is gone and no new one can start; the invoke answers
        # (Lambda's ServiceException) well within the function's timeout plus the platform's slack.
        status, detail, took = restartable_engine(2.0, lambda: _invoke(port, token))
        assert status in (500, 502, 503), (status, detail)
        assert took < 3 + 5 + 10, f"an invoke hung {took:.1f} s while the engine was down"
        # Once it is back: the dead environment is forgotten and a new one starts.
        status, detail, took = _invoke(port, token)
        assert status == 200, detail
    finally:
        lamina.stop()
        label = f"lamina.instance={lamina.env['LAMINA_INSTANCE']}"
        for c in docker.from_env().containers.list(all=True, filters={"label": label}):
            c.remove(force=True)


def _invoke_health(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
