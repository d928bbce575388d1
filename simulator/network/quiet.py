"""Quiet hours in the recipient's local time (DOMAIN §5, §6.6: JP 21:00-08:00 Asia/Tokyo).

Invariants:
    * Evaluated in the recipient's zone with `zoneinfo` (DST-correct): a local wall-clock period
      `[start, end)` that may cross midnight.
    * `is_quiet` is pure but memoises the current segment (the UTC interval between two
      consecutive boundaries) per zone, so a burst of deliveries costs one comparison each.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

__all__ = ["QuietHours"]


class QuietHours:
    """A daily local quiet period."""

    def __init__(self, start: time, end: time) -> None:
        """Define the period.

        Args:
            start: Local time the quiet period starts (inclusive).
            end: Local time it ends (exclusive); earlier than `start` when it crosses midnight.
        """
        self._start = start
        self._end = end
        self._segments: dict[tzinfo, tuple[float, float, bool]] = {}

    def _inside(self, local: time) -> bool:
        if self._start <= self._end:
            return self._start <= local < self._end
        return local >= self._start or local < self._end

    def is_quiet(self, when: float, tz: tzinfo) -> bool:
        """Whether `when` falls inside the quiet period in zone `tz`.

        Args:
            when: Epoch seconds.
            tz: The recipient's zone.

        Returns:
            True inside the quiet period.
        """
        seg = self._segments.get(tz)
        if seg is not None and seg[0] <= when < seg[1]:
            return seg[2]
        local = datetime.fromtimestamp(when, tz)
        quiet = self._inside(local.time().replace(tzinfo=None))
        day = local.date()
        bounds = sorted(
            datetime.combine(day + timedelta(days=k), edge, tz).timestamp()
            for k in (-1, 0, 1)
            for edge in (self._start, self._end)
        )
        lower = max((b for b in bounds if b <= when), default=when)
        upper = min((b for b in bounds if b > when), default=when + 1.0)
        self._segments[tz] = (lower, upper, quiet)
        return quiet
