"""What one poll of an event source did (the pollers log and count it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PollResult:
    received: int
    deleted: int
    outcome: str  # empty | success | partial | filtered | function_error | throttled | error | gone | denied | busy
    # | recursive (every message was one too many of a chain of events)
