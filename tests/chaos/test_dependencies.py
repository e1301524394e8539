"""PostgreSQL and Redis restarted under a running `lamina serve`: while one is down the API answers
Lambda's ServiceException at once (never a hang), and it recovers by itself within seconds."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from support.servers import PostgresCluster, RedisServer, free_port

ANSWER_WITHIN_S = 10.0  # while a dependency is down, each call still answers (with an error) this fast
RECOVER_WITHIN_S = 20.0


class Probe:
    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token

    def __call__(self) -> tuple[int, str, float]:
        """(status, X-Amzn-ErrorType or "", seconds) of one ListFunctions call."""
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", "/2015-03-31/functions", headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.getheader("X-Amzn-ErrorType") or "", time.monotonic() - t0
        except OSError:
            return 0, "connection failed", time.monotonic() - t0
        finally:
            conn.close()


def _until(predicate: Callable[[], bool], limit: float) -> float:
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < limit, f"not within {limit} s"
        time.sleep(0.2)
    return time.monotonic() - t0


def _down_then_up(probe: Probe, stop: Callable[[], None], start: Callable[[], None]) -> float:
    stop()
    for _ in range(4):
        status, error_type, took = probe()
        assert (status, error_type) == (500, "ServiceException"), (status, error_type)
        assert took < ANSWER_WITHIN_S, f"a call took {took:.1f} s while the dependency was down"
    start()
    return _until(lambda: probe()[0] == 200, RECOVER_WITHIN_S)


def test_the_api_answers_through_postgres_and_redis_restarts(tmp_path: Path) -> None:
    pg = PostgresCluster()
    pg.start()
    (tmp_path / "redis").mkdir()
    rs = RedisServer(tmp_path / "redis")
    rs.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    env.update(LAMINA_DATA_DIR=str(tmp_path / "data"), LAMINA_DATABASE_URL=pg.url, LAMINA_REDIS_URL=rs.url,
               LAMINA_PORT=str(port), LAMINA_INSTANCE="deps-test")
    lamina = [sys.executable, "-m", "lamina"]
    subprocess.run([*lamina, "db", "upgrade"], env=env, check=True, capture_output=True)
    creds = json.loads(subprocess.run([*lamina, "admin", "bootstrap", "--json"], env=env, check=True,
                                      capture_output=True, text=True).stdout)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([*lamina, "serve", "--workers", "1", "--threads", "16"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    probe = Probe(port, f"{creds['AccessKeyId']}:{creds['SecretAccessKey']}")
    try:
        _until(lambda: probe()[0] == 200, 60)
        pg_back = _down_then_up(probe, pg.stop, pg.start)
        redis_back = _down_then_up(probe, rs.stop, rs.start)
        print(f"recovered {pg_back:.1f} s after PostgreSQL came back, {redis_back:.1f} s after Redis")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        rs.stop()
        pg.stop()
        pg.remove()
