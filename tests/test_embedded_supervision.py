"""`lamina up` on its embedded default heals itself: an idle worker stays healthy (an event accepted after
more than RQ's longest back-off starts within 100 ms), and a child that dies is restarted while the API
keeps answering; SIGTERM still stops everything.

Uses the embedded SQLite and redis-server, as test_embedded.py does: that is what it tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import redis
from test_embedded import _free_port, _zip

RQ_LONGEST_BACKOFF_S = 60  # rq.worker's max_connection_wait_time: what a broken dequeue would wait


class Up:
    """`lamina up` as a subprocess, its output collected line by line."""

    def __init__(self, data_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        # The defaults, as a newcomer runs it (a faster trigger tick hid the worker's Redis timeouts).
        env.update(LAMINA_DATA_DIR=str(data_dir), LAMINA_PORT=str(port), LAMINA_INSTANCE="supervision-test")
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "lamina", "up", "--no-images"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def pid_of(self, child: str, after: int = 0) -> int | None:
        found = [int(m.group(1)) for line in self.lines[after:]
                 if (m := re.search(rf"lamina up: {child} running \(pid (\d+)\)", line))]
        return found[-1] if found else None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=2) as resp:
                return bool(json.loads(resp.read())["status"] == "ok")
        except OSError:
            return False

    def call(self, method: str, path: str, body: object, auth: dict[str, str],
             headers: dict[str, str] | None = None) -> urllib.request.addinfourl:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json", **auth, **(headers or {})})
        return urllib.request.urlopen(req, timeout=30)


def _wait(predicate: Callable[[], object], limit: float, what: str, up: Up) -> None:
    end = time.monotonic() + limit
    while not predicate():
        assert up.proc.poll() is None, f"lamina up exited:\n{up.output()}"
        assert time.monotonic() < end, f"{what} within {limit} s:\n{up.output()[-4000:]}"
        time.sleep(0.1)


def test_lamina_up_keeps_its_worker_healthy_and_restarts_what_dies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    up = Up(data, _free_port())
    try:
        _wait(up.healthy, 60, "lamina up answers", up)
        _wait(lambda: up.pid_of("worker") and up.pid_of("scheduler"), 30, "the children run", up)
        creds = json.loads((data / "admin-credentials.json").read_text())
        auth = {"Authorization": f"Bearer {creds['AccessKeyId']}:{creds['SecretAccessKey']}"}
        up.call("POST", "/2015-03-31/functions", {
            "FunctionName": "idle", "Runtime": "python3.11", "Handler": "app.handler",
            "Role": "arn:aws:iam::000000000000:role/x",
            "Code": {"ZipFile": _zip({"app.py": "def handler(e, c): return e"})},
        }, auth)
        r = redis.Redis(unix_socket_path=str(data / "redis" / "redis.sock"))

        def send_event() -> str:
            resp = up.call("POST", "/2015-03-31/functions/idle/invocations", {"n": 1}, auth,
                           {"X-Amz-Invocation-Type": "Event"})
            assert resp.status == 202
            return str(resp.headers["x-amzn-RequestId"])

        def start_delay(rid: str) -> float | None:
            accepted, started = r.hmget(f"lamina:ev:{rid}", "accepted", "first_started")
            return float(started) - float(accepted) if started and accepted else None

        # Idle for longer than the longest back-off a broken dequeue would sit out, then one event.
        time.sleep(RQ_LONGEST_BACKOFF_S + 5)
        rid = send_event()
        _wait(lambda: start_delay(rid) is not None, 10, "the event starts", up)
        assert start_delay(rid) < 0.1, f"the event waited {start_delay(rid):.3f} s before it ran"
        assert "Timeout reading from socket" not in up.output()
        assert "could not connect to Redis" not in up.output()

        # A worker and a scheduler SIGKILLed: both come back, and the API answers all along.
        mark = len(up.lines)
        for child in ("worker", "scheduler"):
            old = up.pid_of(child)
            assert old is not None
            os.kill(old, signal.SIGKILL)
        restarted_at = time.monotonic()
        while time.monotonic() - restarted_at < 5:
            assert up.healthy(), "the API stopped answering while a child restarted"
            time.sleep(0.2)
        _wait(lambda: up.pid_of("worker", mark) and up.pid_of("scheduler", mark), 30, "both restart", up)
        assert re.search(r"lamina up: worker exited with -9; restarting in \d+ s", up.output())
        assert re.search(r"lamina up: scheduler exited with -9; restarting in \d+ s", up.output())
        rid = send_event()
        _wait(lambda: start_delay(rid) is not None, 15, "an event runs on the restarted worker", up)
    finally:
        up.proc.send_signal(signal.SIGTERM)
        try:
            up.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            up.proc.kill()
            raise
    assert up.proc.returncode == 0, up.output()
    try:
        redis.Redis(unix_socket_path=str(data / "redis" / "redis.sock")).ping()
        still_up = True
    except redis.ConnectionError:
        still_up = False
    assert not still_up, "SIGTERM left the embedded redis-server running"
