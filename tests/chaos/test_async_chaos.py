"""Chaos: 2000 asynchronous events while worker processes (10 times), the API, the scheduler and Redis
(SIGKILL under appendfsync always, SIGTERM under everysec) are killed. Not one acknowledged event is lost.

The experiment is bench/async_chaos.py (the benchmark prints the same figures); this test runs it on the
suite's PostgreSQL server with real Docker, and separate `lamina serve`, `lamina scheduler` and
`lamina worker --processes 2` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

BENCH = Path(__file__).resolve().parents[2] / "bench" / "async_chaos.py"


def test_no_acknowledged_event_is_lost_while_every_process_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "2000", "--worker-kills", "10", "--json", str(out)],
        env=dict(os.environ), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    print(done.stdout)  # the figures, for the log of the run
    assert result["events_acknowledged"] == 2000
    assert result["lost"] == 0, result
    assert result["still_pending"] == 0, result
    assert result["destination_records_twice"] == 0, result  # completion and delivery are one transaction
    assert result["kills"]["worker process"] == 10, result
    for killed in ("API", "scheduler", "redis SIGKILL (appendfsync always)", "redis SIGTERM (appendfsync everysec)"):
        assert result["kills"].get(killed) == 1, result
    # Then every process SIGKILLed and the scheduler started again: one reconcile adopts or removes all.
    assert result["orphans_after_reconcile"] == 0, result
    assert result["reconcile_s"] <= 60, result
