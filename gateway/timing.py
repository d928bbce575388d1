"""Timers on the gateway's clock: how long to really wait for a span of clock time.

The gateway reads time from an injected `sms.clock.Clock`. Under a scaled clock (the scenario
runner's `ScaledClock`, speed 30-40) one clock second passes in 1/speed real seconds, so a timer
that sleeps clock seconds as if they were real ones runs `speed` times too long on the clock.
Two kinds of timers, two rules:

* **Modelled waits** (`to_real`): waiting *is* the behaviour being simulated, so the wait is
  clock time, whatever it takes in real time: throttle pause, rate-limit delay, reconnect
  back-off (here), and retry back-off, receipt timeout / pending-receipt expiry, validity and
  MO reassembly (compared against ``clock.now()`` by the store and the maintenance pass).
* **Dead-peer guards** (`guard_real`, `guard_clock`): a response timeout or an enquire_link /
  socket timeout protects against a peer that stopped answering. It is configured in clock
  seconds like everything else, but never shorter than `REAL_FLOOR` real seconds, so a busy
  machine (a GC pause, 2 cores shared by a test run) cannot turn a slow answer into a false
  timeout at high speed.

Polling periods (the dispatcher's poll, the maintenance interval, the response-timeout checker)
stay real time: they only decide how often the clock is read, not how long anything waits.

A clock without a `speed` (the system clock, `ManualClock` in tests) runs at real speed.

Invariants:
    * Pure: no clock reads, no sleeping; functions of a clock's speed and a duration.
    * ``to_real(clock, s) >= 0``; ``guard_real(clock, s) >= REAL_FLOOR``;
      ``to_real(clock, guard_clock(clock, s)) >= REAL_FLOOR`` (up to rounding).
"""

from __future__ import annotations

from typing import Final

from sms.clock import Clock

__all__ = ["REAL_FLOOR", "guard_clock", "guard_real", "speed_of", "to_real"]

#: Shortest real time a dead-peer guard may fire after (seconds). Hundreds of times a loopback
#: answer, yet short enough for a scaled scenario's response timeouts to still fire: the library's
#: fault-zoo (speed 40, response_timeout 5 s, then a disconnect window) saw 3 timeouts with 0.5 s
#: and none with 1 s, where the disconnect came first.
REAL_FLOOR: Final[float] = 0.5


def speed_of(clock: Clock) -> float:
    """Clock seconds per real second (1.0 for a clock that does not say)."""
    speed = getattr(clock, "speed", None)
    if isinstance(speed, int | float) and not isinstance(speed, bool) and speed > 0:
        return float(speed)
    return 1.0


def to_real(clock: Clock, clock_seconds: float) -> float:
    """Real seconds to wait for `clock_seconds` of clock time to pass (a modelled wait)."""
    return max(0.0, clock_seconds) / speed_of(clock)


def guard_real(clock: Clock, clock_seconds: float, floor: float = REAL_FLOOR) -> float:
    """Real seconds of a dead-peer guard configured as `clock_seconds` (at least `floor`)."""
    return max(to_real(clock, clock_seconds), floor)


def guard_clock(clock: Clock, clock_seconds: float, floor: float = REAL_FLOOR) -> float:
    """The same guard in clock seconds: `clock_seconds`, or `floor` real seconds of clock time
    when that is longer (for comparisons against ``clock.now()``)."""
    return max(clock_seconds, floor * speed_of(clock))
