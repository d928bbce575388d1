"""Faults as data: one test per fault kind, plus scoping of the plan."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from simulator.network import CarrierNetwork, EventKind, SessionAction
from simulator.network.faults import (
    ACCEPT,
    CarrierOutageFault,
    Fault,
    FaultPlan,
    Phase,
    submit_decision,
)
from simulator.smpp.constants import CommandStatus
from tests.unit.network.helpers import DAY, EPOCH, HOUR, events, msg, network, receipts, sub

NUMBER = "09011112222"


def _net(*faults: dict[str, Any], **sections: Any) -> CarrierNetwork:
    return network(
        subscribers=[sub(NUMBER), sub("09033334444", carrier="au")], faults=list(faults), **sections
    )


def test_plan_scoping_by_account_route_and_window() -> None:
    adapter: TypeAdapter[list[Fault]] = TypeAdapter(list[Fault])
    faults = adapter.validate_python(
        [
            {"kind": "queue_full", "accounts": ["a"], "start_s": 10, "end_s": 20},
            {"kind": "stall", "routes": ["international"]},
        ]
    )
    plan = FaultPlan(faults, EPOCH)
    assert [f.kind for f in plan.active(EPOCH + 15, "a", "domestic_direct")] == ["queue_full"]
    assert plan.active(EPOCH + 20, "a", "domestic_direct") == []
    assert plan.active(EPOCH + 15, "b", "domestic_direct") == []
    assert [f.kind for f in plan.active(EPOCH, "b", "international")] == ["stall"]
    assert plan.active(EPOCH + 15, "a", "domestic_direct", Phase.SESSION) == []
    assert submit_decision([], lambda: 0.5) is ACCEPT


def test_tps_throttle() -> None:
    net = _net({"kind": "tps_throttle", "max_tps": 2})
    answers = [net.submit(msg(NUMBER, b"%d" % i), EPOCH + 0.1 * i).status for i in range(4)]
    assert answers == [0, 0, CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RTHROTTLED]
    assert net.submit(msg(NUMBER, b"next second"), EPOCH + 1.0).status == 0
    refused = net.submit(msg(NUMBER, b"x"), EPOCH + 1.5)
    refused2 = net.submit(msg(NUMBER, b"y"), EPOCH + 1.6)
    assert refused.status == 0
    assert refused2.status == CommandStatus.ESME_RTHROTTLED
    assert [e.kind for e in refused2.events] == [EventKind.REFUSED, EventKind.FAULT_APPLIED]


def test_account_flow_control_without_faults() -> None:
    net = network(subscribers=[sub(NUMBER)], accounts={"acme": {"max_tps": 1, "max_queue": 2}})
    assert net.submit(msg(NUMBER, b"a"), EPOCH).status == 0
    assert net.submit(msg(NUMBER, b"b"), EPOCH).status == CommandStatus.ESME_RTHROTTLED
    assert net.submit(msg(NUMBER, b"c"), EPOCH + 1).status == 0
    assert net.submit(msg(NUMBER, b"d"), EPOCH + 2).status == CommandStatus.ESME_RMSGQFUL
    net.advance(EPOCH + DAY)  # both reached their final state: the queue drains
    assert net.submit(msg(NUMBER, b"e"), EPOCH + DAY).status == 0


def test_queue_full() -> None:
    net = _net({"kind": "queue_full", "end_s": 60})
    refused = net.submit(msg(NUMBER), EPOCH)
    assert refused.status == CommandStatus.ESME_RMSGQFUL
    assert refused.fate is None
    assert net.submit(msg(NUMBER), EPOCH + 60).status == 0


def test_system_error_rate_and_the_retry_keeps_its_fate() -> None:
    faulty = _net({"kind": "system_error_rate", "rate": 0.5})
    clean = _net()
    failures = 0
    for i in range(200):
        message = msg(NUMBER, b"s%d" % i)
        attempt = 0
        while (outcome := faulty.submit(message, EPOCH + i)).status != 0:
            assert outcome.status == CommandStatus.ESME_RSYSERR
            attempt += 1
        failures += attempt
        # The accepted attempt's fate is the one the message has without any fault.
        assert outcome.fate == clean.submit(message, EPOCH + i).fate
    assert 140 < failures < 270  # geometric: about one failure per message


def test_response_delay() -> None:
    net = _net({"kind": "response_delay", "delay": {"kind": "fixed", "seconds": 5}})
    outcome = net.submit(msg(NUMBER), EPOCH)
    assert outcome.status == 0
    assert outcome.response_delay_s == 5.0
    assert outcome.fate is not None
    assert any(e.kind is EventKind.FAULT_APPLIED for e in outcome.events)


@pytest.mark.parametrize("process", [False, True])
def test_no_response(process: bool) -> None:
    net = _net({"kind": "no_response", "process": process})
    outcome = net.submit(msg(NUMBER), EPOCH)
    assert outcome.respond is False
    assert (outcome.fate is not None) is process
    assert len(receipts(net.advance(EPOCH + DAY))) == int(process)


def test_disconnect_after_pdus() -> None:
    net = _net({"kind": "disconnect_after_pdus", "pdus": 100})
    assert net.session_decision(EPOCH, "acme", pdus_received=99, bound_at=EPOCH).action == "none"
    decision = net.session_decision(EPOCH, "acme", pdus_received=100, bound_at=EPOCH)
    assert decision.action is SessionAction.DISCONNECT
    assert decision.fault == "disconnect_after_pdus"


def test_disconnect_at() -> None:
    net = _net({"kind": "disconnect_at", "at_s": 60})
    assert net.next_session_deadline(EPOCH, "acme") == EPOCH + 60
    assert (
        net.session_decision(EPOCH + 59, "acme", pdus_received=1, bound_at=EPOCH).action == "none"
    )
    assert (
        net.session_decision(EPOCH + 60, "acme", pdus_received=1, bound_at=EPOCH).action
        is SessionAction.DISCONNECT
    )
    # A session bound after the instant is left alone.
    assert (
        net.session_decision(EPOCH + 90, "acme", pdus_received=1, bound_at=EPOCH + 61).action
        == "none"
    )
    assert net.next_session_deadline(EPOCH + 61, "acme") is None


def test_generic_nack() -> None:
    net = _net({"kind": "generic_nack", "status": int(CommandStatus.ESME_RINVCMDID)})
    outcome = net.submit(msg(NUMBER), EPOCH)
    assert outcome.generic_nack
    assert outcome.status == CommandStatus.ESME_RINVCMDID
    assert outcome.fate is None


def test_server_unbind() -> None:
    net = _net(
        {"kind": "server_unbind", "at_s": 30},
        {"kind": "server_unbind", "after_pdus": 5, "accounts": ["other"]},
    )
    assert (
        net.session_decision(EPOCH + 30, "acme", pdus_received=1, bound_at=EPOCH).action
        is SessionAction.UNBIND
    )
    assert (
        net.session_decision(EPOCH, "other", pdus_received=5, bound_at=EPOCH).action
        is SessionAction.UNBIND
    )
    assert net.session_decision(EPOCH, "other", pdus_received=4, bound_at=EPOCH).action == "none"


def test_stall() -> None:
    net = _net({"kind": "stall", "start_s": 10, "end_s": 40})
    decision = net.session_decision(EPOCH + 20, "acme", pdus_received=3, bound_at=EPOCH)
    assert decision.action is SessionAction.STALL
    assert decision.until == EPOCH + 40
    assert (
        net.session_decision(EPOCH + 40, "acme", pdus_received=3, bound_at=EPOCH).action == "none"
    )
    assert net.next_session_deadline(EPOCH, "acme") == EPOCH + 10


def test_slow_receipts() -> None:
    net = _net({"kind": "slow_receipts", "end_s": HOUR, "extra": {"kind": "fixed", "seconds": 600}})
    slow = net.submit(msg(NUMBER, b"a"), EPOCH)
    fast = net.submit(msg(NUMBER, b"b"), EPOCH + 2 * HOUR)
    found = {r.key: r for r in receipts(net.advance(EPOCH + DAY))}
    assert slow.fate is not None
    assert fast.fate is not None
    assert found[slow.key].at == pytest.approx(EPOCH + slow.fate.final_after_s + 600)
    assert "slow" in found[slow.key].flags
    assert found[fast.key].at == pytest.approx(EPOCH + 2 * HOUR + fast.fate.final_after_s)


@pytest.mark.parametrize("mode", ["delay", "fail"])
def test_carrier_outage(mode: str) -> None:
    net = _net(
        {"kind": "carrier_outage", "carrier": "docomo", "mode": mode, "end_s": HOUR},
        absence={"p_absent": 0.0},
    )
    docomo = net.submit(msg(NUMBER, registered_delivery=1), EPOCH)
    au = net.submit(msg("09033334444", registered_delivery=1), EPOCH)
    assert docomo.fate is not None
    assert au.fate is not None
    effects = net.advance(EPOCH + DAY)
    found = {r.key: r for r in receipts(effects)}
    assert found[au.key].stat == "DELIVRD"
    assert found[au.key].done_at == pytest.approx(EPOCH + au.fate.final_after_s)
    assert found[au.key].done_at < EPOCH + HOUR
    delivered = {e.key for e in events(effects, EventKind.DELIVERED)}
    if mode == "delay":
        # Held until the outage ends, then one first-attempt latency later.
        assert found[docomo.key].stat == "DELIVRD"
        expected = EPOCH + HOUR + docomo.fate.first_attempt_s
        assert found[docomo.key].done_at == pytest.approx(expected)
        assert docomo.key in delivered
        (attempt,) = events(effects, EventKind.ATTEMPT_FAILED)
        assert attempt.key == docomo.key
        assert attempt.at == pytest.approx(EPOCH + docomo.fate.final_after_s)
    else:
        assert (found[docomo.key].stat, found[docomo.key].err) == ("UNDELIV", 34)
        assert docomo.key not in delivered
        (failed,) = events(effects, EventKind.FAILED)
        assert failed.detail["reason"] == "carrier outage"
        assert events(effects, EventKind.ATTEMPT_FAILED) == []


def _outage(mode: str = "delay", **fields: Any) -> CarrierOutageFault:
    return CarrierOutageFault.model_validate(
        {"kind": "carrier_outage", "carrier": "docomo", "mode": mode, **fields}
    )


def test_carrier_outage_started_and_ended_at_run_time() -> None:
    net = _net(absence={"p_absent": 0.0})
    assert net.fault_plan.empty
    held = net.submit(msg(NUMBER, b"held", registered_delivery=1), EPOCH)
    other = net.submit(msg("09033334444", b"au", registered_delivery=1), EPOCH)
    assert held.fate is not None
    assert other.fate is not None
    outage = _outage()  # open-ended: only the operator ends it
    net.fault_plan.add(outage)
    assert outage in net.fault_plan
    assert net.fault_plan.revision == 1
    effects = net.advance(EPOCH + HOUR)
    assert [r.key for r in receipts(effects)] == [other.key]
    assert [e.key for e in events(effects, EventKind.ATTEMPT_FAILED)] == [held.key]
    # Held: nothing is due but the end of its validity (docomo keeps messages 72 h).
    assert net.next_due() == pytest.approx(EPOCH + 72 * HOUR)
    assert net.fault_plan.remove(outage)
    assert outage not in net.fault_plan
    assert net.fault_plan.revision == 2
    assert net.advance(EPOCH + HOUR) == []
    effects = net.advance(EPOCH + DAY)
    (receipt,) = receipts(effects)
    assert receipt.key == held.key
    assert receipt.stat == "DELIVRD"
    assert receipt.done_at == pytest.approx(EPOCH + HOUR + held.fate.first_attempt_s)
    assert [e.key for e in events(effects, EventKind.DELIVERED)] == [held.key]


def test_a_message_held_past_its_validity_expires() -> None:
    net = _net(absence={"p_absent": 0.0})
    held = net.submit(msg(NUMBER, b"held", registered_delivery=1, validity_s=HOUR), EPOCH)
    net.fault_plan.add(_outage())
    effects = net.advance(EPOCH + DAY)
    (receipt,) = receipts(effects)
    assert receipt.key == held.key
    assert receipt.stat == "EXPIRED"
    assert receipt.done_at == pytest.approx(EPOCH + HOUR)
    (failed,) = events(effects, EventKind.FAILED)
    assert failed.at == pytest.approx(EPOCH + HOUR)
    assert events(effects, EventKind.DELIVERED) == []
    net.fault_plan.remove(net.fault_plan.carrier_outages()[0][0])
    assert net.advance(EPOCH + 2 * DAY) == []  # nothing left to release


def test_carrier_outage_injected_in_fail_mode_fails_messages_in_flight() -> None:
    net = _net(absence={"p_absent": 0.0})
    flying = net.submit(msg(NUMBER, b"a", registered_delivery=1), EPOCH)
    net.fault_plan.add(_outage("fail", err=21))
    effects = net.advance(EPOCH + DAY)
    (receipt,) = receipts(effects)
    assert receipt.key == flying.key
    assert (receipt.stat, receipt.err) == ("UNDELIV", 21)
    assert events(effects, EventKind.DELIVERED) == []


def _outage_run(order: list[int], step: float) -> dict[str, tuple[str, float]]:
    """Submit 40 messages in `order`, with an outage from t=1 s to t=300 s, advancing by `step`."""
    net = _net(absence={"p_absent": 0.0})
    numbers = [NUMBER, "09033334444"]
    for i in order:
        net.submit(msg(numbers[i % 2], b"m%d" % i, registered_delivery=1), EPOCH + 0.01 * i)
    outage = _outage()
    found: dict[str, tuple[str, float]] = {}

    def pump(now: float) -> None:
        for r in receipts(net.advance(now)):
            found[r.key] = (r.stat, round(r.done_at, 6))

    t = EPOCH + 1.0
    pump(t)
    net.fault_plan.add(outage)
    while t < EPOCH + DAY:
        t_next = t + step
        if t_next >= EPOCH + 300 and outage in net.fault_plan:
            pump(EPOCH + 300)
            net.fault_plan.remove(outage)
            pump(EPOCH + 300)
        t = t_next
        pump(t)
    return found


def test_carrier_outage_fates_depend_on_the_fault_timeline_not_on_order_or_ticks() -> None:
    forward = _outage_run(list(range(40)), 7.0)
    backward = _outage_run(list(range(39, -1, -1)), 613.0)
    assert len(forward) == 40
    assert forward == backward
    held = [done for stat, done in forward.values() if done >= EPOCH + 300]
    assert held  # some deliveries were due inside the outage and were moved past its end
