"""max_tps counts simulated seconds: a scaled run throttles at the scenario's rate, not faster."""

from __future__ import annotations

from simulator.accounts import TokenBucket
from simulator.smpp.constants import CommandStatus as S
from sms.clock import ManualClock
from tests.unit.simulator.test_core import Esme, bind, make_core, submit


def test_tokens_come_back_with_simulated_time_not_shell_time() -> None:
    clock = ManualClock(1_000.0)
    core = make_core({"default_account": {"max_tps": 2}}, clock=clock)
    esme = Esme(core)
    bind(esme)
    statuses = [submit(esme, now=5.0).command_status for _ in range(3)]
    assert statuses == [0, 0, S.ESME_RTHROTTLED]
    # Shell (monotonic) time moves on, simulated time does not: still throttled.
    assert submit(esme, now=50.0).command_status == S.ESME_RTHROTTLED
    # One simulated second later two more tokens are there, whatever the shell's time.
    clock.advance(1.0)
    statuses = [submit(esme, now=50.0).command_status for _ in range(3)]
    assert statuses == [0, 0, S.ESME_RTHROTTLED]


def test_a_bucket_read_on_an_earlier_clock_does_not_go_negative() -> None:
    bucket = TokenBucket(1.0, 1, now=10_000.0)
    assert bucket.take(5.0)
    assert not bucket.take(5.5)
    assert bucket.take(6.6)
