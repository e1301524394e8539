"""The embedded default: `lamina up` with no URLs runs on a SQLite file and a child redis-server.

This is the one test that uses SQLite instead of PostgreSQL: it is what it tests.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zip(files: dict[str, str]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return base64.b64encode(buf.getvalue()).decode()


def test_lamina_up_embedded_default(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    # The flags win over their variables (a port taken by nothing, a data directory elsewhere).
    env.update(LAMINA_DATA_DIR=str(tmp_path / "not-this"), LAMINA_PORT="1", LAMINA_INSTANCE="embedded-test")
    proc = subprocess.Popen([sys.executable, "-m", "lamina", "up", "--no-images", "--port", str(port),
                             "--host", "127.0.0.1", "--data-dir", str(tmp_path / "data")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as resp:
                    assert json.loads(resp.read())["status"] == "ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "lamina up did not answer within 60 s"
                time.sleep(0.3)
        # A browser at the root is sent to the console; an SDK's request there is the API's, as before.
        browser = urllib.request.Request(base + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        with urllib.request.urlopen(browser, timeout=10) as resp:  # follows the redirect to the log-in page
            assert resp.url.startswith(base + "/console/") and b"<form" in resp.read()
        try:
            urllib.request.urlopen(urllib.request.Request(base + "/", headers={"Accept": "*/*"}), timeout=10)
            raise AssertionError("an unauthenticated request to / was answered")
        except urllib.error.HTTPError as err:
            assert err.code == 403 and err.headers["X-Amzn-ErrorType"]
        # A new install is bootstrapped by `lamina up`: the admin key waits in a 0600 file.
        creds_file = tmp_path / "data" / "admin-credentials.json"
        assert creds_file.stat().st_mode & 0o777 == 0o600
        creds = json.loads(creds_file.read_text())
        auth = {"Authorization": f"Bearer {creds['AccessKeyId']}:{creds['SecretAccessKey']}"}
        refused = urllib.request.Request(base + "/2015-03-31/functions")
        try:
            urllib.request.urlopen(refused, timeout=10)
            raise AssertionError("an unauthenticated request was answered")
        except urllib.error.HTTPError as err:
            assert err.code == 403
        body = json.dumps({
            "FunctionName": "embedded", "Runtime": "python3.11", "Handler": "app.handler",
            "Role": "arn:aws:iam::000000000000:role/x",
            "Code": {"ZipFile": _zip({"app.py": "def handler(e, c): return e"})},
        }).encode()
        req = urllib.request.Request(base + "/2015-03-31/functions", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **auth})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 201
        listing = urllib.request.Request(base + "/2015-03-31/functions", headers=auth)
        with urllib.request.urlopen(listing, timeout=10) as resp:
            names = [f["FunctionName"] for f in json.loads(resp.read())["Functions"]]
        assert names == ["embedded"]
        # The state lives where the embedded default promises: a SQLite file and a redis socket.
        assert (tmp_path / "data" / "lamina.db").exists()
        assert (tmp_path / "data" / "redis" / "redis.sock").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    printed = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert f"console: {base}/console/" in printed and str(creds_file) in printed, printed[-2000:]
    # Stopping `lamina up` stops its children too: the embedded redis-server no longer answers.
    import redis

    try:
        redis.Redis(unix_socket_path=str(tmp_path / "data" / "redis" / "redis.sock")).ping()
        still_up = True
    except redis.ConnectionError:
        still_up = False
    assert not still_up
    # ...and removes the containers it started (network sandboxes, environments): nothing leaks.
    import docker

    left = docker.from_env().containers.list(
        all=True, filters={"label": ["lamina.managed=1", "lamina.instance=embedded-test"]})
    assert left == []


def test_lamina_up_refuses_bad_flags_by_name(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    for argv, named in ((["--port", "70000"], "--port"), (["--port", "web"], "--port"), (["--host", " "], "--host"),
                        (["--data-dir", str(tmp_path / "file")], "--data-dir")):
        (tmp_path / "file").write_text("not a directory")
        done = subprocess.run([sys.executable, "-m", "lamina", "up", "--no-images", *argv], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and named in done.stderr, (argv, done.returncode, done.stderr)
