"""Every Redis key lamina's scheduler uses is built here (one key family per state, as RQ does)."""

from __future__ import annotations

PREFIX = "lamina"


def function_specs(account_id: str, function_name: str) -> str:
    """Hash: qualifier -> JSON of the resolved runnable spec, cached so warm invokes skip PostgreSQL."""
    return f"{PREFIX}:specs:{account_id}:{function_name}"
