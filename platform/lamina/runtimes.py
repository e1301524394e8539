"""The runtimes lamina runs: one table that validation, image building and cold starts all read.

Adding a runtime is one folder under ``runtimes/<family>/`` (a Dockerfile taking ``ARG BASE``) plus one
row here; ``tests/test_runtimes.py`` checks that every row's family has its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

# The in-container agent is a Python program, so every base image has python3.
AGENT_PACKAGES: tuple[str, ...] = ("python3",)
RUNTIME_BOOTSTRAP = ("/var/runtime/bootstrap",)


@dataclass(frozen=True)
class Runtime:
    identifier: str  # Lambda's runtime identifier, e.g. python3.11
    family: str  # the image: a directory under runtimes/, tagged <image_prefix>/<family>:latest
    base_packages: tuple[str, ...] = ()  # Debian packages the family needs in the base image
    # The command the agent starts as the runtime; None runs the function's own ``bootstrap`` (provided*).
    bootstrap: tuple[str, ...] | None = RUNTIME_BOOTSTRAP


RUNTIMES: tuple[Runtime, ...] = (
    Runtime("python3.11", "python", ("python3",)),
    Runtime("nodejs18.x", "nodejs", ("nodejs",)),
    Runtime("provided", "provided", bootstrap=None),
    Runtime("provided.al2", "provided", bootstrap=None),
    Runtime("provided.al2023", "provided", bootstrap=None),
)

BY_IDENTIFIER: dict[str, Runtime] = {r.identifier: r for r in RUNTIMES}
SUPPORTED: tuple[str, ...] = tuple(BY_IDENTIFIER)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(r.family for r in RUNTIMES))
BASE_PACKAGES: tuple[str, ...] = tuple(dict.fromkeys(AGENT_PACKAGES + tuple(p for r in RUNTIMES
                                                                             for p in r.base_packages)))


def is_supported(identifier: str) -> bool:
    return identifier in BY_IDENTIFIER


def get(identifier: str) -> Runtime:
    """The row of ``identifier``; raise ValueError for a runtime lamina does not run."""
    try:
        return BY_IDENTIFIER[identifier]
    except KeyError:
        raise ValueError(f"unsupported runtime {identifier!r}") from None


def image_for(identifier: str, image_prefix: str) -> str:
    """The Docker image that runs ``identifier``, e.g. python3.11 -> lamina/python:latest."""
    return f"{image_prefix}/{get(identifier).family}:latest"
