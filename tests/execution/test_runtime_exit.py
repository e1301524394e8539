"""A runtime that dies between invocations: the next invocation is run again on a new environment.

Lambda re-initialises such an environment silently. lamina discards it and places the invocation on a
new one, but only when the agent says the event never reached the runtime (``X-Lamina-Dispatched: 0``),
and only once; a runtime that dies with the event in hand is the caller's Runtime.ExitError.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import docker
from lamina.config import Settings
from lamina.services.invoke.invocations import Invoker
from support.functions import Functions
from support.invoking import container_ids, invoke, wait_gone

APP = """
import os, threading, time

COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    time.sleep(event.get("hold", 0))
    if event.get("die"):
        # Exit shortly after this invocation has been answered: the environment dies while idle.
        threading.Timer(0.2, os._exit, (2,)).start()
    if event.get("now"):
        os._exit(3)
    return {"count": COUNT, "stream": context.log_stream_name}
"""


def wait_runtime_dead() -> None:
    time.sleep(1.0)  # the timer fires 0.2 s after the answer


def test_an_idle_environment_whose_runtime_died_is_replaced_transparently(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("fragile", {"app.py": APP})
    first = invoke(client, "fragile", {"die": True})
    assert first.status_code == 200 and first.get_json()["count"] == 1
    [dead] = container_ids(docker_client, settings)
    wait_runtime_dead()
    again = invoke(client, "fragile", {})
    assert again.status_code == 200, again.get_data(as_text=True)
    assert "X-Amz-Function-Error" not in again.headers
    body = again.get_json()
    assert body["count"] == 1 and body["stream"] != first.get_json()["stream"]  # a new environment
    assert wait_gone(docker_client, dead)
    [env] = invoker.pool.snapshot().envs
    assert env.state.value == "warm" and env.container_id != dead


def test_the_rerun_gets_a_new_environment_not_another_idle_one(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("brittle", {"app.py": APP}, timeout=10)
    app = client.application
    answers: list[Any] = []

    def call() -> None:
        answers.append(invoke(app.test_client(), "brittle", {"die": True, "hold": 1.0}))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200, 200]
    dead = container_ids(docker_client, settings)
    assert len(dead) == 2
    wait_runtime_dead()
    # Both idle environments are dead; the re-run must not land on the other one.
    again = invoke(client, "brittle", {})
    assert again.status_code == 200 and "X-Amz-Function-Error" not in again.headers
    assert again.get_json()["count"] == 1
    assert len(container_ids(docker_client, settings) - dead) == 1


def test_a_runtime_that_dies_with_the_event_is_not_run_again(
    client: Any, fns: Functions, invoker: Invoker, docker_client: docker.DockerClient, settings: Settings,
) -> None:
    fns.create("doomed", {"app.py": APP})
    invoke(client, "doomed", {})  # warm
    resp = invoke(client, "doomed", {"now": True})
    assert resp.headers["X-Amz-Function-Error"] == "Unhandled"
    assert resp.get_json()["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in resp.get_json()["errorMessage"]
    deadline = time.monotonic() + 10
    while container_ids(docker_client, settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert container_ids(docker_client, settings) == set()  # discarded, and no second environment ran it
    assert invoker.pool.snapshot().envs == ()
