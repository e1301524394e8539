"""The runtime table is the one list: every row must be buildable and startable, not only valid."""

from __future__ import annotations

from pathlib import Path

from lamina import runtimes
from lamina.executor import images
from lamina.services.functions import validate

RUNTIMES_DIR = Path(__file__).resolve().parents[1] / "runtimes"


def test_every_runtime_has_its_image_folder() -> None:
    for row in runtimes.RUNTIMES:
        dockerfile = RUNTIMES_DIR / row.folder / "Dockerfile"
        assert dockerfile.is_file(), f"{row.identifier}: no {dockerfile}"
        assert "ARG BASE" in dockerfile.read_text(), f"{dockerfile} must take the base image as ARG BASE"
        if row.bootstrap is not None:  # a managed runtime ships the bootstrap the agent starts
            assert (RUNTIMES_DIR / row.folder / "bootstrap").is_file(), f"{row.identifier}: no bootstrap"


def test_validation_image_building_and_cold_start_read_the_same_table() -> None:
    assert images.FAMILIES == runtimes.FAMILIES
    assert set(runtimes.AGENT_PACKAGES) <= set(images.BASE_PACKAGES)
    for row in runtimes.RUNTIMES:
        assert validate.runtime(row.identifier) == row.identifier
        assert images.family_for_runtime(row.identifier) == row.family
        assert set(row.base_packages) | set(runtimes.AGENT_PACKAGES) <= set(row.all_base_packages)
        # An own base keeps its packages (a JDK) out of the suite's shared base.
        assert row.own_base != (set(row.base_packages) <= set(runtimes.base_packages(row.suite))), row
        assert row.suite in runtimes.SUITES
        assert row.overlay is None or (RUNTIMES_DIR / row.overlay).is_dir(), row


def test_an_unknown_runtime_is_refused_everywhere() -> None:
    for refuse in (runtimes.get, images.family_for_runtime):
        try:
            refuse("cobol85")
        except ValueError as err:
            assert "cobol85" in str(err)
        else:
            raise AssertionError(f"{refuse} accepted cobol85")
