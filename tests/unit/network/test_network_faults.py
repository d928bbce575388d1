"""Faults as data: one test per fault kind, plus scoping of the plan."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from simulator.network import CarrierNetwork, EventKind, SessionAction
from simulator.network.faults import (
    ACCEPT,
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
    docomo = net.submit(msg(NUMBER), EPOCH).fate
    au = net.submit(msg("09033334444"), EPOCH).fate
    assert docomo is not None
    assert au is not None
    assert au.stat == "DELIVRD"
    assert au.final_after_s < HOUR
    if mode == "delay":
        assert docomo.stat == "DELIVRD"
        assert docomo.final_after_s > HOUR
        assert docomo.reason == "carrier outage, delayed"
    else:
        assert (docomo.stat, docomo.err) == ("UNDELIV", 34)
    effects = net.advance(EPOCH + DAY)
    assert len(events(effects, EventKind.ATTEMPT_FAILED)) == (1 if mode == "delay" else 0)
