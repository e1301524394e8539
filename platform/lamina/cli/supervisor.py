"""`lamina up`'s supervisor: keeps its child processes running, restarting one that dies.

A child that exits is started again after a back-off (1 s, doubling to 30 s; back to 1 s once a child has
run for a minute), with a log line, while the others keep running: a crashed worker does not take the API
down. SIGTERM or SIGINT stops every child (the last started first) and returns.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
STOP_TIMEOUT_S = 15.0

Echo = Callable[[str], object]


@dataclass
class Child:
    """One supervised process: ``start`` makes (or remakes) it."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = FIRST_BACKOFF_S
    restart_at: float | None = None
    restarts: int = field(default=0)

    def launch(self, echo: Echo) -> None:
        self.proc = self.start()
        self.started_at = time.monotonic()
        self.restart_at = None
        echo(f"lamina up: {self.name} running (pid {self.proc.pid})")


class Supervisor:
    def __init__(self, children: list[Child], echo: Echo, poll_s: float = 0.2) -> None:
        self.children = children
        self.echo = echo
        self.poll_s = poll_s
        self.stopping = False

    def run(self) -> None:
        """Start the children that are not running yet and keep them running until SIGTERM or SIGINT."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            for child in self.children:
                if child.proc is None:
                    child.launch(self.echo)
            while not self.stopping:
                self.tick(time.monotonic())
                time.sleep(self.poll_s)
        finally:
            self.stop_all()

    def tick(self, now: float) -> None:
        """Notice children that died and restart those whose back-off is over."""
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    try:
                        child.launch(self.echo)
                    except Exception as err:  # noqa: BLE001 - e.g. a redis-server that cannot start yet
                        self._schedule(child, now, f"could not restart ({err})")
                continue
            if child.proc is not None and child.proc.poll() is not None:
                if now - child.started_at >= STABLE_AFTER_S:
                    child.backoff_s = FIRST_BACKOFF_S
                self._schedule(child, now, f"exited with {child.proc.returncode}")

    def _schedule(self, child: Child, now: float, why: str) -> None:
        self.echo(f"lamina up: {child.name} {why}; restarting in {child.backoff_s:.0f} s")
        child.restart_at = now + child.backoff_s
        child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def stop_all(self) -> None:
        running = [c.proc for c in reversed(self.children) if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        for proc in running:
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
