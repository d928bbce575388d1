"""Flow-control policies: token buckets, rate limits, window, back-off, retry table, throttle."""

from __future__ import annotations

import math
import random

import pytest

from gateway.errors import GatewayConfigError, WindowError
from gateway.policy import (
    BackoffSchedule,
    CommandStatus,
    Failure,
    Rate,
    RateLimits,
    RetryAction,
    RetryConfig,
    RetryRule,
    RetryTable,
    Scope,
    ThrottleState,
    TokenBucket,
    Window,
    keyed_rng,
)
from gateway.policy.retry import DEFAULT_UNKNOWN_RULE, parse_status

# --- TokenBucket -------------------------------------------------------------------------------


def test_bucket_starts_full_and_refills_at_rate() -> None:
    b = TokenBucket(rate=10, burst=5)
    assert all(b.try_take(1, 0.0) for _ in range(5))
    assert not b.try_take(1, 0.0)
    assert b.delay_until_available(1, 0.0) == pytest.approx(0.1)
    assert not b.try_take(1, 0.05)
    assert b.try_take(1, 0.1)
    assert b.tokens(100.0) == 5  # never above burst


def test_bucket_delay_edge_cases() -> None:
    b = TokenBucket(rate=2, burst=4)
    assert b.delay_until_available(4, 0.0) == 0.0
    assert b.delay_until_available(5, 0.0) == math.inf  # more than the bucket can hold
    assert b.try_take(4, 0.0)
    assert b.delay_until_available(3, 0.0) == pytest.approx(1.5)
    assert TokenBucket(rate=0, burst=1).delay_until_available(0, 0.0) == 0.0
    frozen = TokenBucket(rate=0, burst=1)
    frozen.try_take(1, 0.0)
    assert frozen.delay_until_available(1, 10.0) == math.inf
    with pytest.raises(ValueError, match="negative"):
        b.try_take(-1, 0.0)


def test_bucket_ignores_time_running_backwards() -> None:
    b = TokenBucket(rate=1, burst=1)
    assert b.try_take(1, 10.0)
    assert not b.try_take(1, 5.0)  # no refill from the past
    assert not b.try_take(1, 10.5)
    assert b.try_take(1, 11.0)


@pytest.mark.parametrize(("rate", "burst"), [(-1, 1), (1, 0), (math.inf, 1), (1, math.nan)])
def test_bucket_rejects_bad_config(rate: float, burst: float) -> None:
    with pytest.raises(GatewayConfigError):
        TokenBucket(rate, burst)


# --- RateLimits --------------------------------------------------------------------------------


def test_rate_limits_are_all_or_nothing_and_per_key() -> None:
    limits = RateLimits(
        global_rate=Rate(100, 10),
        per_bind=Rate(100, 4),
        per_sender=Rate(100, 3),
        overrides={(Scope.BIND, "big"): Rate(100, 8)},
    )
    assert limits.try_take(3, 0.0, bind="a", sender="SHOP")
    # Sender SHOP is empty: nothing is taken from the bind or the global bucket.
    assert not limits.try_take(1, 0.0, bind="a", sender="SHOP")
    assert limits.try_take(1, 0.0, bind="a", sender="BANK")  # bind a: 4th token
    assert not limits.try_take(1, 0.0, bind="a", sender="BANK")
    assert limits.try_take(6, 0.0, bind="big")  # override: burst 8; global now 10/10 used
    assert not limits.try_take(1, 0.0, bind="big")  # the global bucket is empty
    assert limits.delay_until_available(1, 0.0, bind="big") == pytest.approx(0.01)
    assert limits.delay_until_available(1, 0.0, bind="a", sender="SHOP") == pytest.approx(0.01)


def test_rate_limits_unlimited_scopes_and_routes() -> None:
    limits = RateLimits(per_route=Rate(1, 1))
    assert limits.try_take(1, 0.0, bind="x")  # no route given: not limited
    assert limits.try_take(1, 0.0, bind="x", route="docomo")
    assert not limits.try_take(1, 0.0, bind="y", route="docomo")
    assert limits.try_take(1, 0.0, bind="y", route="au")
    assert RateLimits().delay_until_available(1000, 0.0, bind="x") == 0.0
    with pytest.raises(GatewayConfigError):
        RateLimits(overrides={(Scope.GLOBAL, "x"): Rate(1, 1)})


# --- Window ------------------------------------------------------------------------------------


def test_window_acquire_release() -> None:
    w = Window(2)
    assert w.try_acquire(1, 0.0)
    assert w.try_acquire(2, 0.5)
    assert w.is_full
    assert w.available == 0
    assert not w.try_acquire(3, 1.0)
    assert 3 not in w
    assert w.release(1) == 0.0
    assert w.release(1) is None  # duplicate response: ignored, never negative
    assert w.release(77) is None
    assert w.outstanding == 1
    with pytest.raises(WindowError) as info:
        w.try_acquire(2, 1.0)
    assert info.value.sequence_number == 2


def test_window_timeouts_and_release_all() -> None:
    w = Window(10)
    for seq, at in ((5, 0.0), (6, 1.0), (7, 2.0)):
        w.try_acquire(seq, at)
    assert w.oldest_sent_at() == 0.0
    assert w.timed_out(now=61.0, timeout=60.0) == [5, 6]
    assert w.outstanding == 3  # timed_out only reports
    assert w.release_all() == [5, 6, 7]
    assert w.outstanding == 0
    assert w.oldest_sent_at() is None
    with pytest.raises(GatewayConfigError):
        Window(0)


# --- Back-off ------------------------------------------------------------------------------------


def test_backoff_schedule() -> None:
    b = BackoffSchedule(base=1, factor=2, cap=30)
    assert [b.nominal(a) for a in range(8)] == [1, 1, 2, 4, 8, 16, 30, 30]
    assert b.nominal(10_000) == 30  # no overflow
    flat = BackoffSchedule(base=5, factor=1, cap=5)
    assert flat.nominal(50) == 5
    assert BackoffSchedule(base=0, factor=2, cap=0).nominal(9) == 0


def test_backoff_jitter_is_seeded_and_only_shortens() -> None:
    b = BackoffSchedule(base=10, factor=2, cap=100, jitter=0.5)
    d1 = b.delay(3, keyed_rng(7, "msg-1", 3))
    assert d1 == b.delay(3, keyed_rng(7, "msg-1", 3))  # same key, same draw
    assert d1 != b.delay(3, keyed_rng(7, "msg-2", 3))
    assert 20 <= d1 <= 40
    assert b.delay(3) == 40  # no rng: no jitter


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": -1},
        {"factor": 0.5},
        {"base": 10, "cap": 5},
        {"jitter": 1.5},
        {"cap": math.inf},
    ],
)
def test_backoff_rejects_bad_config(kwargs: dict[str, float]) -> None:
    with pytest.raises(GatewayConfigError):
        BackoffSchedule(**kwargs)


# --- Retry table ---------------------------------------------------------------------------------

RETRY_CASES = [
    (CommandStatus.ESME_ROK, RetryAction.ACCEPTED),
    (CommandStatus.ESME_RTHROTTLED, RetryAction.THROTTLE_PAUSE),
    (CommandStatus.ESME_RMSGQFUL, RetryAction.RETRY_LATER),
    (CommandStatus.ESME_RSYSERR, RetryAction.RETRY_LATER),
    (CommandStatus.ESME_RX_T_APPN, RetryAction.RETRY_LATER),
    (CommandStatus.ESME_RINVSCHED, RetryAction.RETRY_LATER),
    (CommandStatus.ESME_RINVDSTADR, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RINVSRCADR, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RINVMSGLEN, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RINVESMCLASS, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RSUBMITFAIL, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RINVEXPIRY, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RINVDCS, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RX_P_APPN, RetryAction.PERMANENT_FAIL),
    (CommandStatus.ESME_RINVBNDSTS, RetryAction.RECONNECT_REQUEUE),
    (CommandStatus.ESME_RUNKNOWNERR, RetryAction.RETRY_LATER),
    (0x22, RetryAction.RETRY_LATER),  # reserved value (SMPP-ERRORS.md row 21)
    (0x400, RetryAction.RETRY_LATER),  # vendor-specific
]


@pytest.mark.parametrize(("status", "action"), RETRY_CASES)
def test_default_classification(status: int, action: RetryAction) -> None:
    assert RetryTable().rule(status).action is action


def test_failure_kinds() -> None:
    table = RetryTable()
    assert table.rule_for(Failure.timeout()).action is RetryAction.RETRY_LATER
    assert table.rule_for(Failure.disconnected()).action is RetryAction.RECONNECT_REQUEUE
    nack0 = Failure.generic_nack(CommandStatus.ESME_RINVCMDLEN, 0)
    assert table.rule_for(nack0).action is RetryAction.RECONNECT_REQUEUE
    nack_echo = Failure.generic_nack(CommandStatus.ESME_RTHROTTLED, 42)
    assert table.rule_for(nack_echo).action is RetryAction.THROTTLE_PAUSE


def test_decide_retry_then_give_up() -> None:
    table = RetryTable()
    qfull = Failure.status(CommandStatus.ESME_RMSGQFUL)
    first = table.decide(qfull, attempt=1, now=100.0)
    assert (first.action, first.retry_at, first.reason) == (
        RetryAction.RETRY_LATER,
        160.0,
        "ESME_RMSGQFUL",
    )
    last = table.decide(qfull, attempt=3, now=100.0)
    assert last.action is RetryAction.PERMANENT_FAIL
    assert last.rule_action is RetryAction.RETRY_LATER
    assert "gave up after 3" in last.reason
    perm = table.decide(Failure.status(CommandStatus.ESME_RINVDSTADR), attempt=1, now=0.0)
    assert (perm.action, perm.retry_at) == (RetryAction.PERMANENT_FAIL, None)
    unknown = table.decide(Failure.status(0x22), attempt=1, now=0.0)
    assert (unknown.action, unknown.retry_at, unknown.reason) == (
        RetryAction.RETRY_LATER,
        60.0,
        "0x00000022",
    )
    assert table.decide(Failure.status(0x22), attempt=2, now=0.0).action is (
        RetryAction.PERMANENT_FAIL
    )


def test_decide_respects_validity_deadline() -> None:
    table = RetryTable()
    d = table.decide(Failure.status(CommandStatus.ESME_RSYSERR), attempt=1, now=0.0, deadline=30.0)
    assert (d.action, d.expired) == (RetryAction.PERMANENT_FAIL, True)
    ok = table.decide(Failure.status(CommandStatus.ESME_RSYSERR), attempt=1, now=0.0, deadline=31)
    assert ok.action is RetryAction.RETRY_LATER


def test_reconnect_has_no_attempt_cap_but_table_cap_applies() -> None:
    lost = Failure.disconnected()
    d = RetryTable().decide(lost, attempt=500, now=7.0)
    assert (d.action, d.retry_at) == (RetryAction.RECONNECT_REQUEUE, 7.0)
    capped = RetryTable(max_attempts=5)
    assert capped.decide(lost, attempt=5, now=7.0).action is RetryAction.PERMANENT_FAIL
    throttled = Failure.status(CommandStatus.ESME_RTHROTTLED)
    assert capped.decide(throttled, attempt=4, now=0.0).action is RetryAction.THROTTLE_PAUSE
    with pytest.raises(GatewayConfigError):
        RetryTable(max_attempts=0)


def test_decide_with_jitter_is_reproducible() -> None:
    table = RetryTable()
    f = Failure.status(CommandStatus.ESME_RSYSERR)
    a = table.decide(f, attempt=2, now=0.0, rng=keyed_rng(1, 99, 2))
    b = table.decide(f, attempt=2, now=0.0, rng=keyed_rng(1, 99, 2))
    assert a == b
    assert a.retry_at is not None
    assert 48.0 <= a.retry_at <= 60.0


def test_retry_table_from_config() -> None:
    table = RetryTable.from_config(
        {
            "max_attempts": 10,
            "rules": {
                "ESME_RMSGQFUL": {
                    "action": "retry_later",
                    "max_attempts": 5,
                    "backoff": {"base": 30, "factor": 1, "cap": 30},
                },
                "RINVDSTADR": {"action": "retry_later"},
                "0x400": {"action": "permanent_fail"},
                "88": {"action": "retry_later"},
            },
            "unknown": {"action": "permanent_fail"},
            "timeout": {"action": "reconnect_requeue"},
        }
    )
    assert table.rule(CommandStatus.ESME_RMSGQFUL) == RetryRule(
        RetryAction.RETRY_LATER, 5, BackoffSchedule(30, 1, 30)
    )
    assert table.rule(CommandStatus.ESME_RINVDSTADR).action is RetryAction.RETRY_LATER
    assert table.rule(0x400).action is RetryAction.PERMANENT_FAIL
    assert table.rule(88).action is RetryAction.RETRY_LATER  # decimal 88 == 0x58
    assert table.rule(0x22).action is RetryAction.PERMANENT_FAIL
    assert table.rule_for(Failure.timeout()).action is RetryAction.RECONNECT_REQUEUE
    assert table.rule(CommandStatus.ESME_RINVSRCADR).action is RetryAction.PERMANENT_FAIL
    assert table.max_attempts == 10
    bare = RetryTable.from_config(RetryConfig(use_defaults=False))
    assert bare.rule(CommandStatus.ESME_RTHROTTLED) == DEFAULT_UNKNOWN_RULE
    assert bare.rule(CommandStatus.ESME_ROK).action is RetryAction.ACCEPTED


@pytest.mark.parametrize(
    "config",
    [
        {"rules": {"ESME_NOPE": {"action": "retry_later"}}},
        {"rules": {"0x1FFFFFFFF": {"action": "retry_later"}}},
        {"rules": {"ESME_RSYSERR": {"action": "explode"}}},
        {"rules": {"ESME_RSYSERR": {"action": "retry_later", "max_attempts": 0}}},
        {"surprise": 1},
        {"rules": {"ESME_RSYSERR": {"action": "retry_later", "backoff": {"factor": 0}}}},
    ],
)
def test_retry_config_errors(config: dict[str, object]) -> None:
    with pytest.raises(GatewayConfigError):
        RetryTable.from_config(config)


def test_parse_status() -> None:
    assert parse_status("ESME_RTHROTTLED") == parse_status("rthrottled") == 0x58
    assert parse_status("0x58") == parse_status(88) == 0x58
    with pytest.raises(GatewayConfigError):
        parse_status(-1)


# --- Throttle ------------------------------------------------------------------------------------


def test_throttle_pauses_and_resends_in_send_order() -> None:
    t: ThrottleState[str] = ThrottleState(BackoffSchedule(base=1, factor=2, cap=8))
    fresh = iter(["m5", "m6"])

    def take_fresh() -> str | None:
        return next(fresh, None)

    # m2 and m3 were in flight together; both throttled (answers may come in any order).
    assert t.throttled("m3", 3, now=10.0) == 11.0
    assert t.throttled("m2", 2, now=10.2) == 11.0  # same episode: no longer pause
    assert t.episodes == 1
    assert t.backlog == 2
    assert t.is_paused(10.5)
    assert t.resume_in(10.5) == pytest.approx(0.5)
    assert t.next(10.5, take_fresh) is None  # paused: fresh is not called
    assert t.next(11.0, take_fresh) == "m2"  # oldest first
    assert t.next(11.0, take_fresh) == "m3"
    assert t.next(11.0, take_fresh) == "m5"  # backlog empty: now fresh messages
    # Throttled again after the pause: a new, longer episode.
    assert t.throttled("m5", 5, now=11.5) == 13.5
    assert t.episodes == 2
    t.accepted(12.0)  # an ROK that was in flight: still paused, escalation kept
    assert t.episodes == 2
    t.accepted(14.0)
    assert t.episodes == 0
    assert t.next(14.0, take_fresh) == "m5"
    assert t.next(14.0, take_fresh) == "m6"
    assert t.next(14.0, take_fresh) is None


def test_throttle_drain_returns_backlog_in_order() -> None:
    t: ThrottleState[int] = ThrottleState()
    assert t.paused_until() is None
    assert t.resume_in(0.0) == 0.0
    for order in (9, 4, 7):
        t.throttled(order * 10, order, now=0.0, rng=random.Random(1))
    assert t.drain() == [40, 70, 90]
    assert t.backlog == 0
