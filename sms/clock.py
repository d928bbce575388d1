"""Clocks: time is a parameter, never read from a global inside the pure cores.

Every component that needs "now" takes a `Clock`. Tests and replays use `ManualClock`;
the scenario runner uses `ScaledClock` so that simulated hours pass in seconds.
All clocks return seconds since the Unix epoch as a float, in the clock's own time line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> float:
        """Seconds since the Unix epoch in this clock's time line."""
        ...


class SystemClock:
    """Wall-clock time (the only clock that reads the operating system's time)."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and deterministic replays."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        #: Default start: 2026-01-01T00:00:00Z.
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds})")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        """Jump to `when`; it must not be earlier than the current time."""
        if when < self._now:
            raise ValueError(f"a clock cannot go backwards ({when} < {self._now})")
        self._now = float(when)


class ScaledClock:
    """Simulated time that runs `speed` times faster than a monotonic base clock.

    `now() = start + (base() - base_at_start) * speed`. With speed 3600, one real second is
    one simulated hour. `to_real(seconds)` converts a simulated duration to real seconds for sleeps.
    """

    def __init__(
        self,
        start: float,
        speed: float = 1.0,
        base: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._start = float(start)
        self._speed = float(speed)
        self._base = base
        self._base0 = base()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._start + (self._base() - self._base0) * self._speed

    def to_real(self, simulated_seconds: float) -> float:
        """How many real seconds pass while `simulated_seconds` pass on this clock."""
        return simulated_seconds / self._speed
