"""Timers on the gateway's clock (`gateway.timing`): modelled waits take clock seconds, dead-peer
guards take clock seconds with a real-time floor."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from gateway.esme import BackoffRetryTimer, ThrottleGate, Ticket
from gateway.policy import BackoffSchedule, ThrottleState
from gateway.timing import REAL_FLOOR, guard_clock, guard_real, speed_of, to_real
from sms.clock import ManualClock, ScaledClock
from tests.unit.gateway.test_esme_adapters import ticket


def test_a_clock_without_speed_runs_at_real_speed() -> None:
    clock = ManualClock()
    assert speed_of(clock) == 1.0
    assert to_real(clock, 2.5) == 2.5
    assert to_real(clock, -1.0) == 0.0
    assert guard_real(clock, 30.0) == 30.0
    assert guard_real(clock, 0.2) == REAL_FLOOR
    assert guard_clock(clock, 0.2) == REAL_FLOOR


@pytest.mark.parametrize("speed", [4.0, 40.0])
def test_modelled_waits_shrink_with_speed_and_guards_keep_their_floor(speed: float) -> None:
    clock = ScaledClock(0.0, speed)
    assert to_real(clock, 10.0) == pytest.approx(10.0 / speed)
    # A 10 s response timeout at speed 40 would fire after 0.25 real seconds: floor it.
    assert guard_real(clock, 10.0) == pytest.approx(max(10.0 / speed, REAL_FLOOR))
    assert guard_clock(clock, 10.0) == pytest.approx(max(10.0, REAL_FLOOR * speed))
    assert to_real(clock, guard_clock(clock, 0.1)) >= REAL_FLOOR - 1e-9


def test_throttle_pause_is_reported_to_aiosmpplib_in_real_seconds() -> None:
    clock = ScaledClock(1000.0, 10.0, base=lambda: 0.0)  # frozen base: now() is 1000.0
    state: ThrottleState[Ticket] = ThrottleState(BackoffSchedule(base=5.0, factor=1.0, cap=5.0))
    gate = ThrottleGate(state, clock)
    assert state.throttled(ticket(), 1, clock.now()) == 1005.0
    delay = asyncio.run(gate.throttle_delay())
    assert delay == pytest.approx(0.5)  # 5 clock seconds at speed 10


def test_reconnect_backoff_sleeps_clock_seconds() -> None:
    schedule = BackoffSchedule(base=2.0, factor=1.0, cap=2.0)
    fast = BackoffRetryTimer(schedule, random.Random(1), ScaledClock(0.0, 40.0))
    started = time.monotonic()
    asyncio.run(fast.wait())
    elapsed = time.monotonic() - started
    assert fast.failures == 1
    assert 0.04 <= elapsed < 1.0  # 2 clock seconds = 0.05 real seconds, not 2
