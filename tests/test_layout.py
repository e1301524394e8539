"""The source root `platform/` must never shadow the standard library's `platform` module."""

import platform

import lamina


def test_stdlib_platform_still_resolves() -> None:
    assert callable(platform.system)
    assert platform.__file__ is not None and "lamina" not in platform.__file__
    assert lamina.__version__
