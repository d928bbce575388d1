"""Exponential back-off with a cap and seeded jitter.

Pure: no clock, no global random. Jitter comes from a `random.Random` the caller passes in;
`keyed_rng(seed, key, attempt)` builds one whose draws depend only on (seed, message key,
attempt), never on the order in which messages happened to fail (ARCHITECTURE.md rule 4).

Invariants:
    * ``nominal(a)`` is non-decreasing in the attempt number `a` and never exceeds `cap`.
    * ``delay(a, rng)`` lies in ``[nominal(a) * (1 - jitter), nominal(a)]``: jitter only ever
      shortens a delay, so the cap is a hard upper bound.
    * No overflow for any attempt number: past the cap the schedule is flat.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from gateway.errors import GatewayConfigError


def keyed_rng(seed: int, key: str | int, attempt: int) -> random.Random:
    """A random source for one (message, attempt), independent of arrival order.

    Args:
        seed: The scenario or gateway seed.
        key: A stable message key (store id or client reference).
        attempt: The attempt number.

    Returns:
        A `random.Random` seeded from the three values (string seeding is stable across runs
        and Python hash randomisation).
    """
    return random.Random(f"{seed}:{key}:{attempt}")


@dataclass(frozen=True, slots=True)
class BackoffSchedule:
    """Delay before retry number `attempt`: ``min(cap, base * factor ** (attempt - 1))``.

    Raises:
        GatewayConfigError: base < 0, factor < 1, cap < base, or jitter outside [0, 1].
    """

    base: float = 1.0
    """Delay after the first failure, in seconds."""
    factor: float = 2.0
    """Growth per further attempt (>= 1)."""
    cap: float = 300.0
    """Largest delay, in seconds."""
    jitter: float = 0.0
    """Fraction (0..1) by which a delay may be shortened at random (0 = deterministic)."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.base) or self.base < 0:
            raise GatewayConfigError(f"must be finite and >= 0, got {self.base}", "base")
        if not math.isfinite(self.factor) or self.factor < 1:
            raise GatewayConfigError(f"must be finite and >= 1, got {self.factor}", "factor")
        if not math.isfinite(self.cap) or self.cap < self.base:
            raise GatewayConfigError(f"must be finite and >= base, got {self.cap}", "cap")
        if not 0.0 <= self.jitter <= 1.0:
            raise GatewayConfigError(f"must be within [0, 1], got {self.jitter}", "jitter")

    def nominal(self, attempt: int) -> float:
        """The un-jittered delay before retry after failed attempt number `attempt`.

        Args:
            attempt: 1 for the first failure, 2 for the second... (values < 1 count as 1).

        Returns:
            The delay in seconds, within [base, cap].
        """
        exponent = max(attempt, 1) - 1
        if self.base == 0 or self.factor == 1:
            return self.base
        try:
            growth = self.factor**exponent
        except OverflowError:  # far past the cap: the schedule is flat there
            return self.cap
        return min(self.cap, self.base * growth)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before retry after failed attempt `attempt`, with jitter if configured.

        Args:
            attempt: 1 for the first failure, 2 for the second...
            rng: Seeded random source for jitter; None (or jitter 0) means no jitter.

        Returns:
            The delay in seconds, within [nominal * (1 - jitter), nominal].
        """
        nominal = self.nominal(attempt)
        if rng is None or self.jitter == 0.0:
            return nominal
        return nominal * (1.0 - self.jitter * rng.random())
