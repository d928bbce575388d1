"""Token buckets and their composition into the gateway's rate limits.

Pure: no clock reads; every method takes `now` (seconds, any monotonic time line).

Invariants:
    * A bucket never holds more than `burst` tokens and never goes below zero.
    * Over any interval [t0, t1] the tokens granted by `try_take` are at most
      ``rate * (t1 - t0) + burst`` (the classic token-bucket bound), for any call sequence.
    * Time that runs backwards (``now`` smaller than a previous call) neither refills nor
      drains: the bucket keeps its newest time stamp.
    * `RateLimits.try_take` is all-or-nothing: either every bucket on the path (global, bind,
      route, sender ID) gives its tokens or none does. Limits are counted per *part* (one
      submit_sm PDU), because carriers count PDUs, not messages.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from gateway.errors import GatewayConfigError

#: Slack for float comparisons: a take succeeds when tokens >= n - EPSILON.
EPSILON: Final[float] = 1e-9


@dataclass(frozen=True, slots=True)
class Rate:
    """A token-bucket specification.

    Raises:
        GatewayConfigError: rate is negative or burst is not positive.
    """

    rate: float
    """Tokens added per second (parts per second)."""
    burst: float
    """Bucket capacity: how many parts may go out back to back after a quiet period."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.rate) or self.rate < 0:
            raise GatewayConfigError(f"rate must be finite and >= 0, got {self.rate}", "rate")
        if not math.isfinite(self.burst) or self.burst <= 0:
            raise GatewayConfigError(f"burst must be finite and > 0, got {self.burst}", "burst")


class TokenBucket:
    """A token bucket that starts full.

    Args:
        rate: Tokens added per second (>= 0).
        burst: Capacity (> 0).

    Raises:
        GatewayConfigError: on a negative rate or a non-positive burst.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        spec = Rate(rate, burst)
        self.rate: float = spec.rate
        self.burst: float = spec.burst
        self._tokens: float = spec.burst
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is None:
            self._last = now
            return
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def tokens(self, now: float) -> float:
        """Tokens available at `now` (refills first).

        Args:
            now: Current time in seconds.

        Returns:
            The (fractional) number of tokens in the bucket.
        """
        self._refill(now)
        return self._tokens

    def try_take(self, n: float, now: float) -> bool:
        """Take `n` tokens if they are all available at `now`.

        Args:
            n: Tokens wanted (>= 0); one per submit_sm part.
            now: Current time in seconds.

        Returns:
            True if the tokens were taken, False if the bucket is short (nothing is taken).

        Raises:
            ValueError: `n` is negative.
        """
        if n < 0:
            raise ValueError(f"cannot take a negative number of tokens ({n})")
        self._refill(now)
        if self._tokens + EPSILON >= n:
            self._tokens = max(0.0, self._tokens - n)
            return True
        return False

    def delay_until_available(self, n: float, now: float) -> float:
        """Seconds from `now` until `n` tokens will be available (0.0 if they are now).

        Args:
            n: Tokens wanted (>= 0).
            now: Current time in seconds.

        Returns:
            The delay in seconds, or `math.inf` when `n` exceeds `burst` or the rate is 0 and
            the bucket is short: such a request can never be served.

        Raises:
            ValueError: `n` is negative.
        """
        if n < 0:
            raise ValueError(f"cannot take a negative number of tokens ({n})")
        self._refill(now)
        missing = n - self._tokens
        if missing <= EPSILON:
            return 0.0
        if n > self.burst + EPSILON or self.rate == 0:
            return math.inf
        return missing / self.rate


class Scope(StrEnum):
    """Where a rate limit applies."""

    GLOBAL = "global"
    BIND = "bind"
    ROUTE = "route"
    SENDER = "sender"


class RateLimits:
    """Global, per-bind, per-route and per-sender-ID token buckets, counted per part.

    A scope without a default `Rate` and without an override for a key is unlimited for that
    key. Buckets for keys are created on first use from the scope default (or the override).

    Args:
        global_rate: Limit for everything this gateway sends, or None.
        per_bind: Default limit for each bind (SMPP session), or None.
        per_route: Default limit for each route, or None.
        per_sender: Default limit for each sender ID (source address), or None.
        overrides: Specific limits for named keys,
            e.g. ``{(Scope.BIND, "docomo-1"): Rate(50, 50)}``.
    """

    def __init__(
        self,
        *,
        global_rate: Rate | None = None,
        per_bind: Rate | None = None,
        per_route: Rate | None = None,
        per_sender: Rate | None = None,
        overrides: Mapping[tuple[Scope, str], Rate] | None = None,
    ) -> None:
        self._defaults: dict[Scope, Rate | None] = {
            Scope.BIND: per_bind,
            Scope.ROUTE: per_route,
            Scope.SENDER: per_sender,
        }
        self._overrides: dict[tuple[Scope, str], Rate] = dict(overrides or {})
        for scope, _key in self._overrides:
            if scope is Scope.GLOBAL:
                raise GatewayConfigError("use global_rate, not an override", "overrides")
        self._global = TokenBucket(global_rate.rate, global_rate.burst) if global_rate else None
        self._buckets: dict[tuple[Scope, str], TokenBucket | None] = {}
        # No limit anywhere (the common case): every path is empty, answer without walking it.
        self._unlimited = (
            self._global is None
            and not self._overrides
            and all(rate is None for rate in self._defaults.values())
        )

    def _bucket(self, scope: Scope, key: str) -> TokenBucket | None:
        try:
            return self._buckets[(scope, key)]
        except KeyError:
            spec = self._overrides.get((scope, key), self._defaults[scope])
            bucket = TokenBucket(spec.rate, spec.burst) if spec is not None else None
            self._buckets[(scope, key)] = bucket
            return bucket

    def _path(self, bind: str, route: str | None, sender: str | None) -> Iterator[TokenBucket]:
        if self._global is not None:
            yield self._global
        for scope, key in ((Scope.BIND, bind), (Scope.ROUTE, route), (Scope.SENDER, sender)):
            if key is not None:
                bucket = self._bucket(scope, key)
                if bucket is not None:
                    yield bucket

    def try_take(
        self,
        parts: int,
        now: float,
        *,
        bind: str,
        route: str | None = None,
        sender: str | None = None,
    ) -> bool:
        """Take `parts` tokens from every bucket on the path, or from none.

        Args:
            parts: Number of submit_sm PDUs about to be sent.
            now: Current time in seconds.
            bind: The bind (session) that will send them.
            route: The route, if routes are limited.
            sender: The sender ID (source address), if sender IDs are limited.

        Returns:
            True if every bucket had the tokens (and they were taken).
        """
        if self._unlimited:
            return True
        buckets = list(self._path(bind, route, sender))
        if any(b.delay_until_available(parts, now) > 0.0 for b in buckets):
            return False
        for b in buckets:
            b.try_take(parts, now)
        return True

    def delay_until_available(
        self,
        parts: int,
        now: float,
        *,
        bind: str,
        route: str | None = None,
        sender: str | None = None,
    ) -> float:
        """Seconds until `try_take` with the same arguments would succeed.

        Args:
            parts: Number of submit_sm PDUs.
            now: Current time in seconds.
            bind: The bind.
            route: The route, or None.
            sender: The sender ID, or None.

        Returns:
            The largest delay over the buckets on the path (0.0 if none is short, `math.inf`
            if one can never serve `parts`).
        """
        if self._unlimited:
            return 0.0
        return max(
            (b.delay_until_available(parts, now) for b in self._path(bind, route, sender)),
            default=0.0,
        )
