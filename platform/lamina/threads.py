"""A stoppable daemon thread running one loop: the base of the worker's and the lease keeper's loops."""

from __future__ import annotations

import threading
from typing import Self


class BackgroundLoop:
    """``start`` runs ``_run`` on a daemon thread; ``_run`` loops until ``stop_event`` is set; ``stop`` joins."""

    join_timeout_s = 10.0

    def __init__(self, name: str) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=self.join_timeout_s)

    def _run(self) -> None:
        raise NotImplementedError
