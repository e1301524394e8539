"""Worker tests: real Redis, real RQ workers (in-process bursts and `lamina worker` subprocesses), real Docker."""

from support.triggers import (  # noqa: F401
    docker_client,
    fast,
    fns,
    invoker,
    runtime,
    runtime_images,
    work,
    worker_processes,
)
