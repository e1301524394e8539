"""An accepted event whose job will never run it is rescued: its job was dequeued by a worker that died before
the claim, or the job is gone. The event goes back to delayed at a new gen and runs once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lamina.services.events import events
from lamina.services.queues import queues
from rq import Queue
from rq.job import Job, JobStatus
from support.invoking import invoke
from test_async_invoke import APP, configure, drain, qarn

pytestmark = pytest.mark.docker


def test_the_rq_key_formats_are_rqs(components: Any) -> None:
    assert Job.key_for("abc_1") == events.keys.RQ_JOB_PREFIX + "abc_1"
    assert components.queue.intermediate_queue_key == events.keys.RQ_INTERMEDIATE


def _accept(client: Any, fns: Any, components: Any, name: str) -> str:
    acct = components.settings.account_id
    fns.create(name, {"app.py": APP}, handler="app.ok")
    queues.create_queue(components, acct, f"{name}-done")
    configure(client, name, DestinationConfig={"OnSuccess": {"Destination": qarn(components, f"{name}-done")}})
    resp = invoke(client, name, {"n": 1}, headers={"X-Amz-Invocation-Type": "Event"})
    assert resp.status_code == 202
    return str(resp.headers["x-amzn-RequestId"])


# A worker SIGKILLed after it dequeued the job (RQ moved it to its intermediate list) and before it marked
# it started, or after that and before events.run claimed the event.
@pytest.mark.parametrize("died_at", ["dequeued", "started"])
def test_a_job_taken_by_a_worker_that_died_before_the_claim_is_rescued(
    died_at: str, client: Any, fns: Any, components: Any, fast: Any, work: Any
) -> None:
    rid = _accept(client, fns, components, f"stranded-{died_at}")
    r = components.redis
    job, _queue = Queue.dequeue_any([components.queue], None, connection=r)
    assert job.id == events.keys.job_id(rid, 1)
    if died_at == "started":
        job.set_status(JobStatus.STARTED)
    assert len(components.queue) == 0
    ev = events.get_event(r, rid)
    assert ev is not None and (ev["state"], ev["gen"], ev["enq"]) == ("queued", "1", "1")

    # Within the grace period nothing happens (a live worker claims within milliseconds).
    events.sweep(components, components.queue)
    assert events.get_event(r, rid)["gen"] == "1"

    # After it, the sweep gives the event a new gen and a new job; it runs exactly once.
    later = time.time() + components.settings.async_rescue_after_s + 1
    events.sweep(components, components.queue, now=later)
    ev = events.get_event(r, rid)
    assert (ev["state"], ev["gen"], ev["rescued"]) == ("queued", "2", "1")
    work(until=lambda: events.get_event(r, rid)["state"] == "done")
    ev = events.get_event(r, rid)
    assert (ev["condition"], ev["invokes"]) == ("Success", "1")
    [record] = drain(components, f"stranded-{died_at}-done")
    assert record["requestContext"]["requestId"] == rid
    assert not r.zscore(events.keys.QUEUED, rid)


def test_an_event_whose_job_is_gone_is_rescued(client: Any, fns: Any, components: Any, fast: Any,
                                                work: Any) -> None:
    rid = _accept(client, fns, components, "jobless")
    r = components.redis
    Job.fetch(events.keys.job_id(rid, 1), connection=r).delete()  # lost between Redis and RQ
    events.sweep(components, components.queue, now=time.time() + components.settings.async_rescue_after_s + 1)
    work(until=lambda: events.get_event(r, rid)["state"] == "done")
    assert events.get_event(r, rid)["invokes"] == "1"
    assert len(drain(components, "jobless-done")) == 1


def test_an_event_waiting_its_turn_in_rq_is_left_alone(client: Any, fns: Any, components: Any, fast: Any,
                                                        work: Any) -> None:
    rid = _accept(client, fns, components, "patient")
    r = components.redis
    # A long backlog: the job is still queued in RQ after the grace period; the event keeps its gen and job.
    events.sweep(components, components.queue, now=time.time() + components.settings.async_rescue_after_s + 1)
    ev = events.get_event(r, rid)
    assert (ev["gen"], ev.get("rescued")) == ("1", None)
    work(until=lambda: events.get_event(r, rid)["state"] == "done")
    assert events.get_event(r, rid)["invokes"] == "1"
    assert len(drain(components, "patient-done")) == 1
