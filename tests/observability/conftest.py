"""Observability tests: real invocations on the real Docker engine (fixtures shared with the worker tests)."""

from support.triggers import docker_client, fns, invoker, runtime_images  # noqa: F401
