"""Event source mappings and schedules while `lamina worker` is SIGKILLed: a batch in flight when its poller
died comes back after its visibility timeout and is processed; a schedule's due times each fire exactly
once across the restart (a due time no worker was alive for fires when the next one starts)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lamina.services.events import events
from support.triggers import wait_for
from test_esm_delivery import _count, _mapping, _queue
from test_schedules_firing import _create, _fired

pytestmark = pytest.mark.docker

APP = """
import time

def slow(event, context):
    time.sleep(3)
    return None

def ok(event, context):
    return {"n": len(event)}
"""


def test_a_batch_in_flight_when_its_poller_dies_comes_back_and_is_processed(
    client: Any, fns: Any, components: Any, worker_processes: Any
) -> None:
    fns.create("esm-crash", {"app.py": APP}, handler="app.slow", timeout=10)
    _mapping(client, "esm-crash", _queue(components, "crash-feed", visibility_timeout_s=6))
    from lamina.services.queues import messages

    messages.send_messages(components, components.settings.account_id, "crash-feed", ["one", "two"])
    first = worker_processes()
    # The poller took the batch (it is in flight) and the function runs: SIGKILL the worker mid-batch.
    assert wait_for(lambda: _count(components, "crash-feed") == (0, 2), 60), first.output()
    time.sleep(1.0)
    first.kill()
    assert _count(components, "crash-feed") == (0, 2)  # not lost, not deleted: hidden until the timeout
    second = worker_processes()
    assert wait_for(lambda: _count(components, "crash-feed") == (0, 0), 60), second.output()


def test_a_schedule_fires_each_due_time_exactly_once_across_a_worker_restart(
    client: Any, fns: Any, components: Any, fast: Any, worker_processes: Any
) -> None:
    fns.create("sched-crash", {"app.py": APP}, handler="app.ok")
    _create(client, "each-second", "sched-crash", "rate(1 second)")
    first = worker_processes(extra_env={"LAMINA_SCHEDULE_MIN_RATE": "1"})
    assert wait_for(lambda: len(_fired(components.redis)) >= 2, 30), first.output()
    first.kill()
    time.sleep(2.5)  # due times pass with no worker alive
    second = worker_processes(extra_env={"LAMINA_SCHEDULE_MIN_RATE": "1"})
    killed_at = time.time()
    assert wait_for(lambda: max(_fired(components.redis), default=0) > killed_at + 1, 30), second.output()
    second.stop()
    fired = _fired(components.redis)
    dues = sorted(fired)
    # Every second from the first due time to the last fired once: none skipped across the restart, none twice.
    assert dues == [dues[0] + i for i in range(len(dues))], dues
    rids = list(fired.values())
    assert len(rids) == len(set(rids))
    for rid in rids:
        assert events.get_event(components.redis, rid) is not None
