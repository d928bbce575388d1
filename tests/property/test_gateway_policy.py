"""Properties of the gateway's flow-control policies (hypothesis).

* token bucket: never grants more than ``rate * t + burst`` over any interval;
* window: never above its size, never negative, whatever the call order (state machine);
* back-off: monotonic up to the cap, jitter within bounds;
* retry table: total over every command_status (ours, aiosmpplib's, any 32-bit value);
* throttle: throttled requests come back in send order, before any fresh one.
"""

from __future__ import annotations

import math

from aiosmpplib import SmppCommandStatus
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gateway.errors import WindowError
from gateway.policy import (
    BackoffSchedule,
    CommandStatus,
    Failure,
    RetryAction,
    RetryTable,
    ThrottleState,
    TokenBucket,
    Window,
    keyed_rng,
)
from gateway.policy.retry import MAX_COMMAND_STATUS

TOLERANCE = 1e-6

rates = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False)
bursts = st.floats(min_value=0.5, max_value=100.0, allow_nan=False)
takes = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=5.0, allow_nan=False),  # time step
        st.floats(min_value=0.0, max_value=20.0, allow_nan=False),  # tokens wanted
    ),
    max_size=60,
)


@given(rate=rates, burst=bursts, steps=takes)
def test_bucket_never_exceeds_rate_times_t_plus_burst(
    rate: float, burst: float, steps: list[tuple[float, float]]
) -> None:
    bucket = TokenBucket(rate, burst)
    now = 0.0
    granted: list[tuple[float, float]] = []
    for dt, n in steps:
        now += dt
        if bucket.try_take(n, now):
            granted.append((now, n))
        assert -TOLERANCE <= bucket.tokens(now) <= burst + TOLERANCE
    for i, (t_i, _) in enumerate(granted):
        total = 0.0
        for t_j, n_j in granted[i:]:
            total += n_j
            assert total <= rate * (t_j - t_i) + burst + TOLERANCE


@given(rate=st.floats(0.01, 100.0), burst=bursts, steps=takes)
def test_bucket_delay_is_exact(rate: float, burst: float, steps: list[tuple[float, float]]) -> None:
    bucket = TokenBucket(rate, burst)
    now = 0.0
    for dt, n in steps:
        now += dt
        delay = bucket.delay_until_available(n, now)
        if n > burst + 1e-9:
            assert delay == math.inf
            continue
        if delay > 1e-6:
            assert not _clone(bucket, now).try_take(n, now + delay * 0.99)
        assert bucket.try_take(n, now + delay + 1e-9)
        now += delay + 1e-9


def _clone(bucket: TokenBucket, now: float) -> TokenBucket:
    """A bucket with the same parameters and the same tokens at `now`."""
    clone = TokenBucket(bucket.rate, bucket.burst)
    clone.try_take(bucket.burst - bucket.tokens(now), now)
    return clone


class WindowMachine(RuleBasedStateMachine):
    """Random acquire/release/timeout/release_all sequences against a set model."""

    def __init__(self) -> None:
        super().__init__()
        self.window = Window(4)
        self.model: dict[int, float] = {}
        self.now = 0.0

    @rule(seq=st.integers(1, 12), dt=st.floats(0.0, 3.0))
    def acquire(self, seq: int, dt: float) -> None:
        self.now += dt
        if seq in self.model:
            try:
                self.window.try_acquire(seq, self.now)
            except WindowError:
                return
            raise AssertionError("re-acquiring an outstanding sequence number must raise")
        got = self.window.try_acquire(seq, self.now)
        assert got == (len(self.model) < self.window.size)
        if got:
            self.model[seq] = self.now

    @rule(seq=st.integers(1, 12))
    def release(self, seq: int) -> None:
        assert self.window.release(seq) == self.model.pop(seq, None)

    @rule(timeout=st.floats(0.0, 10.0))
    def timed_out(self, timeout: float) -> None:
        expected = [s for s, at in self.model.items() if at <= self.now - timeout]
        assert self.window.timed_out(self.now, timeout) == expected

    @precondition(lambda self: len(self.model) > 2)
    @rule()
    def link_lost(self) -> None:
        assert self.window.release_all() == list(self.model)
        self.model.clear()

    @invariant()
    def bounded(self) -> None:
        assert 0 <= self.window.outstanding <= self.window.size
        assert self.window.outstanding == len(self.model)
        assert self.window.available == self.window.size - len(self.model)


TestWindowMachine = WindowMachine.TestCase


backoffs = st.builds(
    lambda base, factor, extra, jitter: BackoffSchedule(base, factor, base + extra, jitter),
    base=st.floats(0.0, 100.0),
    factor=st.floats(1.0, 10.0),
    extra=st.floats(0.0, 1000.0),
    jitter=st.floats(0.0, 1.0),
)


@given(schedule=backoffs, a=st.integers(-5, 10_000), b=st.integers(-5, 10_000))
def test_backoff_is_monotonic_up_to_the_cap(schedule: BackoffSchedule, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert schedule.base <= schedule.nominal(lo) <= schedule.nominal(hi) <= schedule.cap


@given(schedule=backoffs, attempt=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_backoff_jitter_stays_in_bounds(schedule: BackoffSchedule, attempt: int, seed: int) -> None:
    nominal = schedule.nominal(attempt)
    delay = schedule.delay(attempt, keyed_rng(seed, "m", attempt))
    assert nominal * (1 - schedule.jitter) - 1e-9 <= delay <= nominal
    assert delay == schedule.delay(attempt, keyed_rng(seed, "m", attempt))


ALL_STATUSES = [int(s) for s in CommandStatus] + [int(s) for s in SmppCommandStatus]
statuses = st.one_of(st.sampled_from(ALL_STATUSES), st.integers(0, MAX_COMMAND_STATUS))


@given(
    status=statuses,
    attempt=st.integers(1, 50),
    now=st.floats(0, 1e9),
    ttl=st.one_of(st.none(), st.floats(0.0, 1e5)),
)
def test_retry_table_is_total(status: int, attempt: int, now: float, ttl: float | None) -> None:
    table = RetryTable()
    rule_ = table.rule(status)
    assert rule_.action in set(RetryAction)
    assert (rule_.action is RetryAction.ACCEPTED) == (status == CommandStatus.ESME_ROK)
    deadline = None if ttl is None else now + ttl
    for failure in (Failure.status(status), Failure.generic_nack(status, attempt)):
        decision = table.decide(failure, attempt=attempt, now=now, deadline=deadline)
        retrying = decision.action not in (RetryAction.ACCEPTED, RetryAction.PERMANENT_FAIL)
        assert (decision.retry_at is not None) == retrying
        if decision.retry_at is not None:
            assert decision.retry_at >= now
            assert deadline is None or decision.retry_at < deadline


def test_every_named_status_has_a_deliberate_rule() -> None:
    table = RetryTable()
    for status in CommandStatus:
        if status in (CommandStatus.ESME_RUNKNOWNERR,):
            continue  # deliberately the "unknown" rule
        assert table.rule(status) is not table.unknown, status.name


@given(
    events=st.lists(
        st.one_of(
            st.tuples(st.just("throttle"), st.floats(0.0, 2.0)),
            st.tuples(st.just("next"), st.floats(0.0, 2.0)),
        ),
        max_size=80,
    )
)
def test_throttled_requests_return_in_send_order_before_fresh(
    events: list[tuple[str, float]],
) -> None:
    state: ThrottleState[int] = ThrottleState(BackoffSchedule(base=1.0, factor=2.0, cap=4.0))
    now = 0.0
    next_fresh = 1000
    sent: list[int] = []  # in flight, in send order
    held: list[int] = []
    for kind, dt in events:
        now += dt
        if kind == "throttle" and sent:
            item = sent.pop(0)
            resume = state.throttled(item, item, now)
            assert resume > now
            held.append(item)
        elif kind == "next":
            fresh_called = False

            def fresh() -> int:
                nonlocal fresh_called, next_fresh
                fresh_called = True
                next_fresh += 1
                return next_fresh

            got = state.next(now, fresh)
            if state.is_paused(now):
                assert got is None
                assert not fresh_called
            elif held:
                assert got == min(held)
                assert not fresh_called
                held.remove(got)
            else:
                assert fresh_called
                assert got == next_fresh
            if got is not None:
                sent.append(got)
                sent.sort()
        assert state.backlog == len(held)
