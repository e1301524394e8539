"""PostgreSQL and Redis restarted under a running `lamina serve`: while one is down the API answers
Lambda's ServiceException at once (never a hang), and it recovers by itself within seconds."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from pathlib import Path

from support.servers import ServedLamina

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
    lamina = ServedLamina(tmp_path, "deps-test")
    probe = Probe(lamina.port, lamina.token)
    try:
        _until(lambda: probe()[0] == 200, 60)
        pg_back = _down_then_up(probe, lamina.pg.stop, lamina.pg.start)
        redis_back = _down_then_up(probe, lamina.redis.stop, lamina.redis.start)
        print(f"recovered {pg_back:.1f} s after PostgreSQL came back, {redis_back:.1f} s after Redis")
    finally:
        lamina.stop()
