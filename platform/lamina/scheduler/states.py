"""The life of an execution environment: the states the scheduler keeps in Redis, and their transitions.

    (acquire, no idle env)      (agent answered)        (release)
  ─────────────────────────▶ STARTING ─────────▶ BUSY ◀──────────────▶ WARM ──(idle > freeze_after)──▶ FREEZING
                                                   ▲        (acquire)     │                              │ docker pause
                                                   │                      │ idle > idle_timeout          ▼
                                                   └──── (acquire: thaw) ─┼──────────────────────── FROZEN
                                                                          ▼                              │
                                                                       REAPED ◀──────────────────────────┘

A STARTING or BUSY environment holds a concurrency slot (and a lease that the reaper collects if the API
process that holds it dies). WARM and FROZEN environments are idle: they count towards memory, not
concurrency. Leaving BUSY for anything but WARM (timeout, crash, reset, stale revision) discards the
environment: its Redis record is deleted in the same atomic step and its container removed in the
background. REAPED is never stored; it names what the reaper does.
"""

from __future__ import annotations

from enum import StrEnum


class ContainerState(StrEnum):
    STARTING = "starting"
    WARM = "warm"
    BUSY = "busy"
    FREEZING = "freezing"
    FROZEN = "frozen"
    REAPED = "reaped"

    @property
    def idle(self) -> bool:
        return self in (ContainerState.WARM, ContainerState.FROZEN)

    @property
    def holds_slot(self) -> bool:
        """True while the environment counts towards reserved and account concurrency."""
        return self in (ContainerState.STARTING, ContainerState.BUSY)
