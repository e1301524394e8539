"""The `lamina` command line: platform processes (up, serve, worker, db) and API client commands."""

from __future__ import annotations

from lamina.cli.main import main

__all__ = ["main"]
