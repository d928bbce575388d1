"""simulator.server.Smsc, the pure core, driven through an ESME Session on a fake wire."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from simulator.config import SimulatorConfig, config_from_mapping
from simulator.server import (
    ACCEPT,
    FixedFateHandler,
    Link,
    ReceiptOrder,
    Smsc,
    Submission,
    Verdict,
)
from simulator.smpp.constants import CommandStatus as S
from simulator.smpp.constants import MessageState
from simulator.smpp.events import PduReceived
from simulator.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
)
from simulator.smpp.session import Role, Session
from sms.bus.events import (
    BaseEvent,
    BindStateChanged,
    MetricsSnapshot,
    ReceiptSent,
    SubmitReceived,
)
from sms.bus.metrics import BIND_SUBMITTED, BIND_THROTTLED
from sms.clock import ManualClock


@dataclass
class Wire:
    """A fake connection: what the core wrote and whether it closed."""

    data: list[bytes] = field(default_factory=list)
    closed: bool = False

    def flush(self, data: bytes, close: bool) -> None:
        if data:
            self.data.append(data)
        self.closed = self.closed or close

    def take(self) -> bytes:
        out = b"".join(self.data)
        self.data.clear()
        return out


class Esme:
    """An ESME-role Session connected to the core through a Wire."""

    def __init__(self, core: Smsc, now: float = 0.0, host: str = "127.0.0.1") -> None:
        self.core = core
        self.wire = Wire()
        self.session = Session(Role.ESME, now)
        link = core.connect(host, 40000, self.wire, now)
        assert link is not None
        self.link: Link = link
        self.received: list[Pdu] = []

    def send(self, pdu: Pdu, now: float = 0.0) -> int:
        self.core.data(self.link, self.session.send(pdu, now), now)
        self.pump(now)
        return pdu.sequence_number

    def pump(self, now: float = 0.0) -> list[Pdu]:
        data = self.wire.take()
        if data:
            self.session.receive_data(data, now)
        out = [e.pdu for e in self.session.events() if isinstance(e, PduReceived)]
        self.received += out
        return out

    def answer(self, pdu: DeliverSm, status: int = 0, now: float = 0.0) -> None:
        self.send(DeliverSmResp(pdu.sequence_number, status), now)


def make_core(document: dict[str, object] | None = None, **kwargs: object) -> Smsc:
    config = config_from_mapping(document or {})
    return Smsc(config, **kwargs)  # type: ignore[arg-type]


def bind(esme: Esme, system_id: str = "acme") -> None:
    esme.send(BindTransceiver(system_id=system_id, password="pw"))
    (response,) = [p for p in esme.received if isinstance(p, BindTransceiverResp)]
    assert response.command_status == 0


def submit(
    esme: Esme, text: bytes = b"hello", registered_delivery: int = 1, now: float = 0.0
) -> SubmitSmResp:
    before = len(esme.received)
    seq = esme.send(
        SubmitSm(
            source_addr="ACME",
            destination_addr="819012345678",
            short_message=text,
            registered_delivery=registered_delivery,
        ),
        now,
    )
    # A receipt due at once follows its submit_sm_resp in the same write.
    (response,) = [
        p
        for p in esme.received[before:]
        if isinstance(p, SubmitSmResp) and p.sequence_number == seq
    ]
    return response


def test_submit_then_receipt_after_the_delay() -> None:
    clock = ManualClock()
    core = make_core({"receipts": {"delay_s": 2.0}}, clock=clock)
    esme = Esme(core)
    bind(esme)
    response = submit(esme)
    assert response.command_status == 0
    assert response.message_id == "0000000001"
    core.tick(0.1)
    assert esme.pump() == []
    clock.advance(2.0)
    core.tick(0.2)
    (receipt,) = esme.pump()
    assert isinstance(receipt, DeliverSm)
    assert receipt.esm_class == 0x04
    assert receipt.receipted_message_id == "0000000001"
    assert b"stat:DELIVRD" in receipt.short_message
    esme.answer(receipt)
    assert core.stats.receipts_sent == 1
    record = core.store.get("0000000001")
    assert record is not None
    assert record.state == MessageState.DELIVERED


def test_no_receipt_without_registered_delivery_but_state_still_final() -> None:
    clock = ManualClock()
    core = make_core({"receipts": {"delay_s": 0}}, clock=clock)
    esme = Esme(core)
    bind(esme)
    response = submit(esme, registered_delivery=0)
    core.tick(0.0)
    assert esme.pump() == []
    esme.send(QuerySm(message_id=response.message_id, source_addr="ACME"))
    query = esme.received[-1]
    assert isinstance(query, QuerySmResp)
    assert query.message_state == MessageState.DELIVERED
    assert query.final_date.endswith("+")


def test_window_counts_requests_that_arrived_together() -> None:
    core = make_core({"default_account": {"window": 3}})
    esme = Esme(core)
    bind(esme)
    wire = b"".join(
        esme.session.send(SubmitSm(source_addr="A", destination_addr="8190", short_message=b"x"), 0)
        for _ in range(5)
    )
    core.data(esme.link, wire, 0.0)
    statuses = [p.command_status for p in esme.pump() if isinstance(p, SubmitSmResp)]
    assert statuses == [0, 0, 0, S.ESME_RTHROTTLED, S.ESME_RTHROTTLED]
    assert core.stats.throttled == 2


class Recorder:
    """A handler that records submissions and answers with a fixed verdict."""

    def __init__(self, verdict: Verdict = ACCEPT) -> None:
        self.verdict = verdict
        self.seen: list[Submission] = []
        self.orders: list[ReceiptOrder] = []

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        self.seen.append(submission)
        return self.verdict

    def advance(self, now: float) -> list[ReceiptOrder]:
        out, self.orders = self.orders, []
        return out

    def next_due(self) -> float | None:
        return 0.0 if self.orders else None


def test_handler_sees_udh_stripped_parts_and_can_override_the_id() -> None:
    handler = Recorder(Verdict(message_id="carrier-42"))
    core = make_core(handler=handler)
    esme = Esme(core)
    bind(esme)
    esme.send(
        SubmitSm(
            source_addr="A",
            destination_addr="8190",
            esm_class=0x40,
            short_message=bytes((5, 0, 3, 7, 2, 1)) + b"part one",
        )
    )
    response = esme.received[-1]
    assert isinstance(response, SubmitSmResp)
    assert response.message_id == "carrier-42"
    (seen,) = handler.seen
    assert seen.body == b"part one"
    assert seen.place is not None
    assert seen.place.seq == 1
    assert core.store.get("carrier-42") is not None


def test_handler_refusal_generic_nack_and_delay() -> None:
    handler = Recorder(Verdict(status=S.ESME_RSUBMITFAIL, generic_nack=True))
    core = make_core(handler=handler)
    esme = Esme(core)
    bind(esme)
    submit_seq = esme.send(SubmitSm(source_addr="A", destination_addr="8190"))
    nack = esme.received[-1]
    assert nack.sequence_number == submit_seq
    assert nack.command_id == 0x80000000
    handler.verdict = Verdict(delay_s=5.0)
    esme.send(SubmitSm(source_addr="A", destination_addr="8190"))
    assert not isinstance(esme.received[-1], SubmitSmResp) or esme.received[-1] is nack
    core.tick(4.0)
    assert esme.pump() == []
    core.tick(5.0)
    (late,) = esme.pump()
    assert isinstance(late, SubmitSmResp)
    assert late.command_status == 0


class Exploding:
    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        raise RuntimeError("boom")

    def advance(self, now: float) -> list[ReceiptOrder]:
        raise RuntimeError("boom")

    def next_due(self) -> float | None:
        return None


def test_handler_errors_answer_rsyserr_and_never_escape() -> None:
    core = make_core(handler=Exploding())
    esme = Esme(core)
    bind(esme)
    assert submit(esme).command_status == S.ESME_RSYSERR  # row 13
    core.tick(1.0)
    assert core.stats.handler_errors == 2
    assert not esme.wire.closed


def test_redelivery_on_temporary_error_and_requeue_on_close() -> None:
    clock = ManualClock()
    core = make_core({"receipts": {"delay_s": 0}, "delivery": {"retry_delay_s": 1}}, clock=clock)
    esme = Esme(core)
    bind(esme)
    submit(esme)
    # Due at once: the receipt left in the same write as the submit_sm_resp, no tick needed.
    (first,) = [p for p in esme.received if isinstance(p, DeliverSm)]
    esme.answer(first, S.ESME_RX_T_APPN)
    assert core.stats.redeliveries == 1
    assert core.queues.total == 1
    core.tick(0.5)
    assert esme.pump() == []
    core.tick(1.0)
    (again,) = esme.pump()
    assert isinstance(again, DeliverSm)
    assert again.short_message == first.short_message
    # The connection drops with the receipt in flight: it goes back to the queue.
    core.lost(esme.link, 2.0)
    assert core.queues.total == 1
    assert core.stats.binds == 0
    other = Esme(core, now=3.0)
    bind(other)
    (third,) = [p for p in other.received if isinstance(p, DeliverSm)]
    assert isinstance(third, DeliverSm)
    assert third.short_message == first.short_message


def test_receipt_due_at_once_leaves_in_the_same_write_after_its_response() -> None:
    clock = ManualClock()
    core = make_core({"receipts": {"delay_s": 0}}, clock=clock)
    esme = Esme(core)
    bind(esme)
    esme.wire.data.clear()
    octets = esme.session.send(
        SubmitSm(source_addr="ACME", destination_addr="819012345678", registered_delivery=1), 0.0
    )
    esme.core.data(esme.link, octets, 0.0)
    assert len(esme.wire.data) == 1  # one flush: the answer, then the receipt
    got = esme.pump()
    assert [type(p) for p in got] == [SubmitSmResp, DeliverSm]
    # A receipt not yet due stays with the global timer.
    later = make_core({"receipts": {"delay_s": 5}}, clock=ManualClock())
    other = Esme(later)
    bind(other)
    submit(other)
    assert not [p for p in other.received if isinstance(p, DeliverSm)]


def test_receipts_round_robin_over_receivers() -> None:
    clock = ManualClock()
    core = make_core({"receipts": {"delay_s": 0}}, clock=clock)
    tx = Esme(core)
    bind(tx)
    rx = [Esme(core), Esme(core)]
    for esme in rx:
        bind(esme)
    for _ in range(4):
        submit(tx)
    for esme in rx:
        esme.pump()
    counts = [sum(isinstance(p, DeliverSm) for p in esme.received) for esme in (tx, *rx)]
    assert sorted(counts) == [1, 1, 2]  # three receivers (the transceiver is one), four receipts


def test_bus_events_are_published() -> None:
    events: list[BaseEvent] = []
    clock = ManualClock()
    core = make_core({"receipts": {"delay_s": 0}}, clock=clock, publish=events.append)
    esme = Esme(core)
    bind(esme)
    submit(esme)
    (receipt,) = [p for p in esme.received if isinstance(p, DeliverSm)]
    esme.answer(receipt)
    core.tick(1.5)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["BindStateChanged", "SubmitReceived", "ReceiptSent"]
    assert "MetricsSnapshot" in kinds
    bound = events[0]
    assert isinstance(bound, BindStateChanged)
    assert bound.state == "bound"
    assert bound.system_id == "acme"
    assert bound.mode == "transceiver"
    submitted = events[1]
    assert isinstance(submitted, SubmitReceived)
    assert submitted.smsc_message_id == "0000000001"
    sent = events[2]
    assert isinstance(sent, ReceiptSent)
    assert sent.stat == "DELIVRD"


def test_max_connections() -> None:
    core = make_core({"limits": {"max_connections": 1}})
    Esme(core)
    assert core.connect("127.0.0.1", 1, Wire(), 0.0) is None
    assert core.stats.connections_refused == 1


@pytest.mark.parametrize("delay", [0.0, 3.0])
def test_fixed_fate_handler_respects_schedule_and_validity(delay: float) -> None:
    handler = FixedFateHandler(SimulatorConfig(receipts={"delay_s": delay}).receipts)  # type: ignore[arg-type]
    sub = Submission("a", 1, 4, "m1", "", 0, 0, "A", 0, 0, "B", 0, 1, 0, b"", b"x", None, 100.0,
                     schedule_at=110.0, validity_at=112.0)  # fmt: skip
    handler.handle_submit(sub, 100.0)
    assert handler.next_due() == (110.0 + delay if delay < 2 else 112.0)
    (order,) = handler.advance(200.0)
    assert order.stat == ("DELIVRD" if delay < 2 else "EXPIRED")


class Overtaking:
    """Delivers at once, and the receipt overtakes the submit_sm_resp (a carrier fault knob)."""

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        order = ReceiptOrder(now, submission.message_id, "DELIVRD")
        return Verdict(before=(order,))

    def advance(self, now: float) -> list[ReceiptOrder]:
        return []

    def next_due(self) -> float | None:
        return None


def test_a_receipt_may_overtake_its_response() -> None:
    core = make_core(handler=Overtaking())
    esme = Esme(core)
    bind(esme)
    esme.send(SubmitSm(source_addr="A", destination_addr="8190", registered_delivery=1))
    receipt, response = esme.received[-2:]
    assert isinstance(receipt, DeliverSm)
    assert isinstance(response, SubmitSmResp)
    assert receipt.receipted_message_id == response.message_id


def test_per_session_submit_and_throttle_counts_reach_the_metrics() -> None:
    events: list[BaseEvent] = []
    core = make_core({"default_account": {"window": 3}}, publish=events.append)
    esme = Esme(core)
    bind(esme)
    other = Esme(core)
    bind(other)
    wire = b"".join(
        esme.session.send(SubmitSm(source_addr="A", destination_addr="8190", short_message=b"x"), 0)
        for _ in range(5)
    )
    core.data(esme.link, wire, 0.0)
    submit(other)
    core.tick(1.5)
    snapshots = [e for e in events if isinstance(e, MetricsSnapshot)]
    assert len(snapshots) == 1
    counts = snapshots[0].bind_counts
    assert counts[esme.link.name] == {BIND_SUBMITTED: 5, BIND_THROTTLED: 2}
    assert counts[other.link.name] == {BIND_SUBMITTED: 1, BIND_THROTTLED: 0}
    assert snapshots[0].bind_rates[esme.link.name][BIND_SUBMITTED] > 0
    submit(other, now=2.0)
    core.lost(esme.link, 2.0)
    core.tick(3.0)
    snapshots = [e for e in events if isinstance(e, MetricsSnapshot)]
    assert len(snapshots) == 2
    counts = snapshots[1].bind_counts
    assert esme.link.name not in counts  # closed: forgotten
    assert counts[other.link.name] == {BIND_SUBMITTED: 2, BIND_THROTTLED: 0}


def test_outbind_backs_off_while_receipts_wait_and_stops_once_a_receiver_binds() -> None:
    core = make_core(
        {
            "receipts": {"delay_s": 0},
            "accounts": [
                {
                    "system_id": "acme",
                    "password": "pw",
                    "outbind": {"port": 2776, "retry_initial_s": 1, "retry_max_s": 3},
                }
            ],
        }
    )
    tx = Esme(core)
    tx.send(BindTransmitter(system_id="acme", password="pw"))
    assert core.due_outbinds(0.0) == []  # nothing waits yet
    submit(tx)
    core.tick(0.0)  # the receipt is queued; no receiver: outbind wanted
    assert core.next_wakeup(0.0) == 0.0
    ((account, target),) = core.due_outbinds(0.0)
    assert (account, target.port) == ("acme", 2776)
    assert core.due_outbinds(0.0) == []  # one attempt at a time
    now = 0.0
    for delay in (1.0, 2.0, 3.0, 3.0):  # doubling, capped at retry_max_s
        core.outbind_failed("acme", now)
        assert core.next_wakeup(now) <= now + delay
        assert core.due_outbinds(now + delay - 0.01) == []
        assert core.due_outbinds(now + delay) != []
        now += delay
    rx = Esme(core, now)
    link = rx.link
    core.start_outbind(link, "acme", now)
    (outbind,) = rx.pump(now)
    assert isinstance(outbind, Outbind)
    assert outbind.system_id == core.config.system_id
    rx.send(BindReceiver(system_id="acme", password="pw"), now)
    receipt = rx.received[-1]
    assert isinstance(receipt, DeliverSm)
    assert core.outbinds_waiting is False
    assert core.stats.outbinds == 5
    assert core.stats.outbind_failures == 4
