"""Test images: AWS's own runtime interface client (awslambdaric from PyPI) in a container-image function.

The client is installed on the host with pip for the base image's python3.11 and copied in, so the build
needs no network inside containers. The image is labelled with a hash of the fixture and the base image
and rebuilt only when either changes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
from lamina.config import Settings
from lamina.executor.images import HASH_LABEL, base_image_tag, context_hash, ensure_base_image

AWSLAMBDARIC = "awslambdaric==4.2.2"
AWSLAMBDARIC_IMAGE = "lamina-test/awslambdaric:latest"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "images" / "awslambdaric"


def build_awslambdaric_image(client: docker.DockerClient, settings: Settings | None = None) -> str:
    """Build (or reuse) the awslambdaric test image; return its tag."""
    settings = settings or Settings.from_env({})
    base_id = ensure_base_image(client, settings)
    wanted = context_hash(FIXTURE, base_id + "\0" + AWSLAMBDARIC)
    try:
        if client.images.get(AWSLAMBDARIC_IMAGE).labels.get(HASH_LABEL) == wanted:
            return AWSLAMBDARIC_IMAGE
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="lamina-ric-") as tmp:
        ctx = Path(tmp) / "ctx"
        shutil.copytree(FIXTURE, ctx)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(ctx / "site"),
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--platform",
                "manylinux2014_x86_64",
                AWSLAMBDARIC,
            ],
            check=True,
        )
        client.images.build(
            path=str(ctx),
            tag=AWSLAMBDARIC_IMAGE,
            buildargs={"BASE": base_image_tag(settings)},
            labels={HASH_LABEL: wanted},
            rm=True,
            forcerm=True,
            pull=False,
        )
    return AWSLAMBDARIC_IMAGE
