"""The runtimes lamina runs: Lambda runtime identifiers, their image families and image names.

The one list of supported runtimes; the control plane validates against it and the executor picks
images with ``image_for``.
"""

from __future__ import annotations

# Lambda runtime identifier -> runtime image family (a directory under runtimes/).
FAMILIES: dict[str, str] = {
    "python3.11": "python",
    "nodejs18.x": "nodejs",
    "provided": "provided",
    "provided.al2": "provided",
    "provided.al2023": "provided",
}

SUPPORTED: tuple[str, ...] = tuple(FAMILIES)


def is_supported(runtime: str) -> bool:
    return runtime in FAMILIES


def family_for(runtime: str) -> str:
    """The image family of ``runtime``; raise ValueError for a runtime lamina does not run."""
    try:
        return FAMILIES[runtime]
    except KeyError:
        raise ValueError(f"unsupported runtime {runtime!r}") from None


def image_for(runtime: str, image_prefix: str) -> str:
    """The Docker image that runs ``runtime``, e.g. python3.11 -> lamina/python:latest."""
    return f"{image_prefix}/{family_for(runtime)}:latest"
