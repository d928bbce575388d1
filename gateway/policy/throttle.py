"""Throttle state of one bind: pause on ESME_RTHROTTLED, resume in the original send order.

Pure: every method takes `now`; jitter comes from a caller-provided `random.Random`.

Theory of operation:
    Each request the bind sends gets an increasing *send order* number from the ESME. When a
    response says ESME_RTHROTTLED, the ESME hands the request to `throttled(...)`: the bind
    pauses until ``now + backoff``, and the request goes into a backlog ordered by send order.
    Several in-flight requests throttled in the same episode join the backlog without
    lengthening the pause; a throttle that arrives after the pause ended starts a new episode
    with the next (longer) back-off. The first ESME_ROK seen outside a pause ends the
    escalation.

    The ESME takes every request to send through `next(now, fresh)`: while paused it gets
    nothing; while the backlog is non-empty it gets the backlog's oldest request; only when
    the backlog is empty is `fresh()` called for a new message. So the ESME layer cannot send
    a later message before a throttled earlier one.

Invariants:
    * While paused, `next` returns None and does not call `fresh`.
    * While the backlog is non-empty, `next` returns backlog items in ascending send order and
      never calls `fresh`.
    * Requests already on the wire when the throttle arrived are not recalled: with a window
      larger than one, requests sent after the throttled one may be answered first. The
      guarantee is "retried before anything not yet sent", the strongest one a pipelined
      window allows.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway.policy.backoff import BackoffSchedule

T = TypeVar("T")

#: Default pause schedule: Kannel sleeps after RTHROTTLED, Jasmin requeues after 30 s.
DEFAULT_THROTTLE_BACKOFF = BackoffSchedule(base=1.0, factor=2.0, cap=30.0)


@dataclass(order=True, slots=True)
class _Held(Generic[T]):
    order: int
    item: T = field(compare=False)


class ThrottleState(Generic[T]):
    """Pause/resume state and ordered retry backlog of one bind.

    Args:
        backoff: Pause length per consecutive throttle episode.
    """

    def __init__(self, backoff: BackoffSchedule = DEFAULT_THROTTLE_BACKOFF) -> None:
        self.backoff = backoff
        self._paused_until: float | None = None
        self._episodes = 0
        self._backlog: list[_Held[T]] = []

    @property
    def episodes(self) -> int:
        """Consecutive throttle episodes without an accepted request in between."""
        return self._episodes

    @property
    def backlog(self) -> int:
        """Throttled requests waiting to be resent."""
        return len(self._backlog)

    def paused_until(self) -> float | None:
        """End of the current or last pause, or None if the bind was never throttled."""
        return self._paused_until

    def is_paused(self, now: float) -> bool:
        """True while the bind must not send."""
        return self._paused_until is not None and now < self._paused_until

    def resume_in(self, now: float) -> float:
        """Seconds until the bind may send again (0.0 if it may send now)."""
        if self._paused_until is None:
            return 0.0
        return max(0.0, self._paused_until - now)

    def throttled(self, item: T, order: int, now: float, rng: random.Random | None = None) -> float:
        """Record that `item` (sent as number `order` on this bind) got ESME_RTHROTTLED.

        Args:
            item: The request to resend (whatever the ESME needs: message id and part).
            order: Its send order on this bind (strictly increasing per send).
            now: Current time in seconds.
            rng: Seeded random source for the back-off jitter, or None.

        Returns:
            When the bind may send again.
        """
        until = self._paused_until
        if until is None or now >= until:
            self._episodes += 1
            until = now + self.backoff.delay(self._episodes, rng)
            self._paused_until = until
        heapq.heappush(self._backlog, _Held(order, item))
        return until

    def hold(self, item: T, order: int) -> None:
        """Put back a request taken with `next` that could not be sent yet (it waits for a
        rate-limit token, or the link went away), without pausing the bind.

        It keeps its place by send order, so it still goes before anything sent later.

        Args:
            item: The request.
            order: Its send order (as given when it was first taken).
        """
        heapq.heappush(self._backlog, _Held(order, item))

    def accepted(self, now: float) -> None:
        """Record an ESME_ROK response: outside a pause it ends the back-off escalation.

        Args:
            now: Current time in seconds.
        """
        if not self.is_paused(now):
            self._episodes = 0

    def next(self, now: float, fresh: Callable[[], T | None]) -> T | None:
        """The next request this bind may send, honouring the pause and the backlog.

        Args:
            now: Current time in seconds.
            fresh: Called (only when not paused and the backlog is empty) to get a new
                request; it may return None when there is nothing to send.

        Returns:
            The request to send now, or None.
        """
        if self.is_paused(now):
            return None
        if self._backlog:
            return heapq.heappop(self._backlog).item
        return fresh()

    def drain(self) -> list[T]:
        """Empty the backlog (the link is gone), oldest first, so it can be requeued.

        Returns:
            The held requests in send order.
        """
        items = [held.item for held in sorted(self._backlog)]
        self._backlog.clear()
        return items
