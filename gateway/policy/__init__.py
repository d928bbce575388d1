"""Pure flow-control policies of the gateway: every one takes `now`, none reads a clock.

Invariants shared by the package:
    * No I/O, no asyncio, no clock reads, no global random: time is a `now: float` argument and
      jitter comes from a seeded `random.Random` passed in (see `keyed_rng`).
    * Each policy is a small object owned by one bind (window, throttle) or by the dispatcher
      (rate limits, retry table); the ESME shell calls them and acts on their answers.
    * `gateway.policy.quiet` (contact hours: deferral and validity cap) is the submit-time
      policy `gateway.admission` applies; it takes aware datetimes instead of a float `now`.
"""

from __future__ import annotations

from gateway.policy.backoff import BackoffSchedule, keyed_rng
from gateway.policy.bucket import Rate, RateLimits, Scope, TokenBucket
from gateway.policy.retry import (
    CommandStatus,
    Decision,
    Failure,
    FailureKind,
    RetryAction,
    RetryConfig,
    RetryRule,
    RetryTable,
)
from gateway.policy.throttle import ThrottleState
from gateway.policy.window import Window

__all__ = [
    "BackoffSchedule",
    "CommandStatus",
    "Decision",
    "Failure",
    "FailureKind",
    "Rate",
    "RateLimits",
    "RetryAction",
    "RetryConfig",
    "RetryRule",
    "RetryTable",
    "Scope",
    "ThrottleState",
    "TokenBucket",
    "Window",
    "keyed_rng",
]
