"""simulator.smsc.Smsc session faults without a socket: a stub handler decides, a fake wire sees.

The fake wire has no ``set_reading``, so a stall is carried out by the core alone: what arrives
meanwhile is held and answered once the stall ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.network.faults import SessionAction, SessionDecision
from simulator.smpp.pdu import SubmitSm, SubmitSmResp
from simulator.smsc import ACCEPT, Smsc, Submission, Verdict
from sms.clock import ManualClock
from tests.unit.simulator.test_core import Esme, bind, make_core

START = 1_000.0


@dataclass
class StallHandler:
    """Accepts everything; stalls every session from ``start`` until ``end`` (then stops)."""

    start: float
    end: float
    active: bool = True

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        return ACCEPT

    def advance(self, now: float) -> list[object]:
        return []

    def next_due(self) -> float | None:
        return None

    def session_decision(
        self, now: float, account: str, *, pdus_received: int, bound_at: float
    ) -> SessionDecision:
        if self.active and self.start <= now < self.end:
            return SessionDecision(SessionAction.STALL, until=self.end, fault="stall")
        return SessionDecision()

    def next_session_deadline(self, now: float, account: str) -> float | None:
        return self.start if self.active and now < self.start else None


def submit_sm() -> SubmitSm:
    """A plain submit_sm."""
    return SubmitSm(source_addr="ACME", destination_addr="819012345678", short_message=b"x")


def core_with(handler: StallHandler, clock: ManualClock) -> Smsc:
    """A core over the stub handler."""
    return make_core({}, clock=clock, handler=handler)


def test_stall_holds_input_until_the_window_ends() -> None:
    clock = ManualClock(START)
    core = core_with(StallHandler(START + 10, START + 20), clock)
    esme = Esme(core)
    bind(esme)
    assert core.next_wakeup(0.0) <= 10.0  # the stall's start (or the metrics tick before it)
    clock.advance(10)
    core.tick(10.0)
    seen = len(esme.received)
    esme.send(submit_sm(), 10.5)
    assert len(esme.received) == seen  # no answer
    assert core.stats.submits == 0
    assert esme.link.held  # held, not read
    clock.advance(10)
    core.tick(20.0)
    esme.pump()
    assert isinstance(esme.received[-1], SubmitSmResp)
    assert core.stats.submits == 1
    assert esme.link.stalled_until is None


def test_a_changed_plan_releases_a_stall_at_the_next_tick() -> None:
    clock = ManualClock(START)
    handler = StallHandler(START, START + 1_000)
    core = core_with(handler, clock)
    esme = Esme(core)
    bind(esme)  # the bind itself is the first decision: stalled from now on
    assert esme.link.stalled_until == START + 1_000
    esme.send(submit_sm(), 1.0)
    assert core.stats.submits == 0
    handler.active = False
    core.faults_changed()
    assert core.next_wakeup(1.0) == 1.0
    core.tick(1.0)
    esme.pump()
    assert isinstance(esme.received[-1], SubmitSmResp)
