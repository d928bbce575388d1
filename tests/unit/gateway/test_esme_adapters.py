"""The aiosmpplib extension points of gateway.esme, with fakes: broker (window, throttle, rate
gating), correlator, throttle gate, rate limiter, retry timer, the planned submit_sm PDU, and
the bind's attempt bookkeeping against a fake store."""

from __future__ import annotations

import asyncio
import random
import struct
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiosmpplib import (
    BindTransceiverResp,
    DeliverSm,
    EnquireLink,
    SmppCommandStatus,
    SubmitSmResp,
)

from gateway.errors import GatewayError
from gateway.esme import (
    Attempt,
    BackoffRetryTimer,
    Bind,
    BindSettings,
    GatewayContext,
    GatewayEsme,
    GatewayStats,
    LinkDown,
    PartRateLimiter,
    PlannedSubmitSm,
    ReceiptInbound,
    StoreBroker,
    StoreCorrelator,
    TaskTracker,
    ThrottleGate,
    Ticket,
    TicketState,
    build_attempt,
    final_state_for,
)
from gateway.policy import (
    BackoffSchedule,
    Decision,
    Rate,
    RateLimits,
    RetryAction,
    RetryTable,
    Scope,
    ThrottleState,
    Window,
)
from gateway.store import ClaimedMessage, MessageState, PartState, RespOutcome
from sms.alphabet import Encoding
from sms.bus import InMemoryBus, MetricsAggregator, Publisher
from sms.bus.events import SubmitTimedOut
from sms.bus.metrics import BIND_SUBMITTED, BIND_THROTTLED
from sms.numbers import Npi, SmppAddress, Ton
from sms.segments import Method, plan

SRC = SmppAddress(Ton.ALPHANUMERIC, Npi.UNKNOWN, "SENDER")
DST = SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "819012345678")


class LoopClock:
    """The event loop's clock (so that real sleeps and `now` agree)."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()


def claimed(
    message_id: int = 1, parts: int = 1, pending: tuple[int, ...] | None = None
) -> ClaimedMessage:
    return ClaimedMessage(
        id=message_id,
        source="SENDER",
        destination="+819012345678",
        text="x",
        parts_total=parts,
        pending_parts=pending if pending is not None else tuple(range(1, parts + 1)),
        attempt=1,
        priority=0,
        client_ref=None,
        encoding="gsm7",
        profile="generic",
        method="udh8",
        concat_ref=None,
        validity_deadline=None,
        route="default",
        bind=None,
        campaign_id=None,
        metadata={},
    )


def ticket(message_id: int = 1, part: int = 1, sender: str = "SENDER") -> Ticket:
    attempt = Attempt(message_id, 1, 1, None, None, outstanding=1)
    return Ticket(
        attempt=attempt,
        part=part,
        total=1,
        source=SRC,
        destination=DST,
        user_data=b"hi",
        as_payload=False,
        encoding=Encoding.GSM7,
        esm_class=0,
        sar=None,
        registered_delivery=1,
        priority=0,
        route="default",
        sender=sender,
    )


def broker(window: int = 2, limits: RateLimits | None = None) -> StoreBroker:
    clock = LoopClock()
    b = StoreBroker(
        "b1",
        Window(window),
        ThrottleState(BackoffSchedule(base=0.05, factor=1.0, cap=0.05)),
        PartRateLimiter(limits or RateLimits(), "b1", clock),
        clock,
        capacity=10,
    )
    b.open, b.closed = True, False
    return b


async def dequeue(b: StoreBroker, within: float = 1.0) -> Ticket:
    async with asyncio.timeout(within):
        msg = await b.dequeue()
    assert isinstance(msg, PlannedSubmitSm)
    return msg.ticket


# -- broker ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_broker_gates_on_the_window_and_reopens_on_release() -> None:
    async with asyncio.timeout(5):
        b = broker(window=2)
        t1, t2, t3 = ticket(1), ticket(2), ticket(3)
        b.push([t1, t2, t3])
        first = await dequeue(b)
        b.sent(first, 11, 0.0)
        second = await dequeue(b)
        b.sent(second, 12, 0.0)
        assert [first, second] == [t1, t2]
        blocked = asyncio.create_task(b.dequeue())
        await asyncio.sleep(0.05)
        assert not blocked.done()  # window of 2 is full
        b.release(11)
        async with asyncio.timeout(1):
            third = await blocked
        assert third.ticket is t3
        assert b.window.outstanding == 1
        assert b.reserved == 1


@pytest.mark.asyncio
async def test_a_handed_out_part_holds_its_slot_until_written() -> None:
    async with asyncio.timeout(5):
        b = broker(window=1)
        b.push([ticket(1), ticket(2)])
        await dequeue(b)  # handed out, not yet written: the slot is reserved
        blocked = asyncio.create_task(b.dequeue())
        await asyncio.sleep(0.05)
        assert not blocked.done()
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
        assert b.ready
        assert b.ready[0].message_id == 2


@pytest.mark.asyncio
async def test_throttled_part_goes_before_fresh_parts_after_the_pause() -> None:
    async with asyncio.timeout(5):
        b = broker(window=5)
        t1, t2, t3 = ticket(1), ticket(2), ticket(3)
        b.push([t1, t2, t3])
        sent = await dequeue(b)
        b.sent(sent, 1, 0.0)
        loop = asyncio.get_running_loop()
        b.release(1)
        until = b.throttle.throttled(t1, t1.order, loop.time())
        start = loop.time()
        again = await dequeue(b)
        assert again is t1
        assert loop.time() >= until - 0.01
        assert loop.time() - start >= 0.03
        assert (await dequeue(b)) is t2


@pytest.mark.asyncio
async def test_rate_limit_wait_keeps_the_order() -> None:
    async with asyncio.timeout(5):
        limits = RateLimits(global_rate=Rate(20.0, 1.0))
        b = broker(window=5, limits=limits)
        t1, t2 = ticket(1), ticket(2)
        b.push([t1, t2])
        assert (await dequeue(b)) is t1
        await b.limiter.limit()  # aiosmpplib takes the token right after dequeue
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert (await dequeue(b)) is t2
        assert loop.time() - start >= 0.04  # one token per 50 ms
        assert b.limiter.waited == 0


@pytest.mark.asyncio
async def test_parts_of_a_stopped_attempt_are_dropped() -> None:
    async with asyncio.timeout(5):
        b = broker()
        dropped: list[Ticket] = []
        b.on_drop = dropped.append
        t1, t2 = ticket(1), ticket(2)
        t1.attempt.fail(Decision(RetryAction.PERMANENT_FAIL, None, "bad"))
        b.push([t1, t2])
        assert (await dequeue(b)) is t2
        assert dropped == [t1]
        assert t1.state is TicketState.DONE


@pytest.mark.asyncio
async def test_closed_broker_raises_link_down_and_take_all_keeps_order() -> None:
    async with asyncio.timeout(5):
        b = broker()
        t1, t2, t3 = ticket(1), ticket(2), ticket(3)
        b.push([t1, t2, t3])
        handed = await dequeue(b)
        b.closed = True
        b.kick()
        with pytest.raises(LinkDown):
            await b.dequeue()
        assert b.take_all() == [handed, t2, t3]
        assert b.reserved == 0
        assert b.queued == 0


# -- correlator, throttle gate, limiter, retry timer ---------------------------------------------


@pytest.mark.asyncio
async def test_correlator_in_flight_late_and_other_requests() -> None:
    async with asyncio.timeout(5):
        c = StoreCorrelator(late_capacity=2)
        t1, t2 = ticket(1), ticket(2)
        t1.submit_sm()
        c.register(5, t1)
        c.register(6, t2)
        assert await c.get(SubmitSmResp(sequence_num=5)) is t1.pdu
        assert c.resolve(5) is t1
        assert c.resolve(5) is None
        assert c.expire(6) is t2
        assert await c.get(SubmitSmResp(sequence_num=6)) is t2.pdu  # late answer still pairs
        assert c.take_late(6) is t2
        assert c.take_late(6) is None
        link = EnquireLink(sequence_num=9)
        await c.put(link)
        assert await c.get(SubmitSmResp(sequence_num=9)) is link
        assert await c.get(SubmitSmResp(sequence_num=9)) is None
        c.register(7, t1)
        assert c.drain() == [t1]
        assert not c.inflight
        for seq in (1, 2, 3):
            c.register(seq, ticket(seq))
            c.expire(seq)
        assert list(c.late) == [2, 3]  # bounded, oldest forgotten
        assert await c.get_segmented(1) == (None, 0)
        await c.get_delivery(DeliverSm(short_message="x"))  # typed None: receipts are ours


@pytest.mark.asyncio
async def test_throttle_gate_answers_from_the_state() -> None:
    async with asyncio.timeout(5):
        state: ThrottleState[Ticket] = ThrottleState(
            BackoffSchedule(base=10.0, factor=1.0, cap=10.0)
        )
        clock = LoopClock()
        gate = ThrottleGate(state, clock)
        assert await gate.allow_request()
        state.throttled(ticket(), 1, clock.now())
        assert not await gate.allow_request()
        assert 9.0 < await gate.throttle_delay() <= 10.0
        await gate.throttled()
        await gate.not_throttled()
        assert (gate.throttled_responses, gate.other_responses) == (1, 1)


@pytest.mark.asyncio
async def test_rate_limiter_takes_per_part_on_every_scope() -> None:
    async with asyncio.timeout(5):
        limits = RateLimits(
            per_bind=Rate(100.0, 5.0),
            per_sender=Rate(1.0, 1.0),
            overrides={(Scope.ROUTE, "default"): Rate(100.0, 5.0)},
        )
        clock = LoopClock()
        limiter = PartRateLimiter(limits, "b1", clock)
        a, b = ticket(1, sender="ALPHA"), ticket(2, sender="BETA")
        limiter.announce(a)
        await limiter.limit()
        assert limiter.delay(a, clock.now()) > 0.5  # ALPHA's bucket is empty
        assert limiter.delay(b, clock.now()) == 0.0  # BETA's is not
        assert limits.delay_until_available(5, clock.now(), bind="b1") > 0  # bind bucket used


def test_retry_timer_is_seeded_and_grows() -> None:
    schedule = BackoffSchedule(base=1.0, factor=2.0, cap=8.0, jitter=0.5)
    a = BackoffRetryTimer(schedule, random.Random(7))
    b = BackoffRetryTimer(schedule, random.Random(7))
    assert a.next_delay() == b.next_delay()
    assert 0.5 <= a.next_delay() <= 1.0
    a.failures = 3
    a.reset()
    assert a.failures == 0


# -- planned PDUs ---------------------------------------------------------------------------------


def _body(pdu: bytes) -> dict[str, Any]:
    """Parse the fields of a submit_sm PDU that the tests look at."""
    offset = 16

    def cstr() -> bytes:
        nonlocal offset
        end = pdu.index(0, offset)
        value, offset = pdu[offset:end], end + 1
        return value

    cstr()
    src_ton = pdu[offset]
    offset += 2
    src = cstr()
    dst_ton = pdu[offset]
    offset += 2
    dst = cstr()
    esm_class = pdu[offset]
    offset += 3
    cstr()
    validity = cstr()
    registered = pdu[offset]
    data_coding = pdu[offset + 2]
    length = pdu[offset + 4]
    offset += 5
    sm = pdu[offset : offset + length]
    offset += length
    tlvs: dict[int, bytes] = {}
    while offset < len(pdu):
        tag, n = struct.unpack_from(">HH", pdu, offset)
        tlvs[tag] = pdu[offset + 4 : offset + 4 + n]
        offset += 4 + n
    return {
        "src": (src_ton, src),
        "dst": (dst_ton, dst),
        "esm_class": esm_class,
        "registered": registered,
        "data_coding": data_coding,
        "sm": sm,
        "tlvs": tlvs,
        "validity": validity,
    }


@pytest.mark.parametrize("method", ["udh8", "udh16", "sar", "payload"])
def test_planned_parts_go_out_byte_for_byte(method: str) -> None:
    text = "テスト" * 40  # 120 UCS-2 characters: two parts
    p = plan(text, "generic", method=Method(method), reference=0x1234 if method != "udh8" else 0x34)
    _attempt, tickets = build_attempt(
        claimed(parts=len(p.parts)),
        p,
        route="default",
        destination=DST,
        source=SRC,
        registered_delivery=True,
    )
    for t, part in zip(tickets, p.parts, strict=True):
        fields = _body(t.submit_sm().pdu())
        assert fields["data_coding"] == 0x08
        assert fields["src"] == (5, b"SENDER")
        assert fields["dst"] == (1, b"819012345678")
        assert fields["registered"] == 1
        if method == "payload":
            assert fields["sm"] == b""
            assert fields["tlvs"][0x0424] == part.payload
        else:
            assert fields["sm"] == part.short_message
            assert fields["esm_class"] == p.esm_class
        if method == "sar":
            assert fields["tlvs"][0x020C] == b"\x12\x34"
            assert fields["tlvs"][0x020E] == bytes([len(p.parts)])
            assert fields["tlvs"][0x020F] == bytes([part.seq])
        else:
            assert 0x020C not in fields["tlvs"]


def test_build_attempt_sends_only_pending_parts_and_checks_the_plan() -> None:
    p = plan("x" * 400, "generic")
    attempt, tickets = build_attempt(
        claimed(parts=3, pending=(2,)),
        p,
        route="r",
        destination=DST,
        source=SRC,
        registered_delivery=False,
    )
    assert [t.part for t in tickets] == [2]
    assert attempt.outstanding == 1
    assert tickets[0].registered_delivery == 0
    with pytest.raises(GatewayError):
        build_attempt(
            claimed(parts=2), p, route="r", destination=DST, source=SRC, registered_delivery=True
        )


def test_attempt_failure_precedence() -> None:
    a = Attempt(1, 1, 2, None, None)
    a.fail(Decision(RetryAction.RETRY_LATER, 10.0, "later"))
    a.fail(Decision(RetryAction.RETRY_LATER, 20.0, "even later"))
    assert a.failure is not None
    assert a.failure.retry_at == 20.0
    a.fail(Decision(RetryAction.PERMANENT_FAIL, None, "no"))
    a.fail(Decision(RetryAction.RETRY_LATER, 30.0, "later again"))
    assert a.failure.action is RetryAction.PERMANENT_FAIL
    assert a.stopped


def test_aiosmpplib_receipt_parser_raises_where_ours_does_not() -> None:
    """Why GatewayEsme parses deliver_sm itself: aiosmpplib's parser raises on common variants."""
    from sms.receipt import parse_receipt

    text = (
        "id:77 sub:001 dlvrd:001 submit date:260101090000 done date:260101090000"
        " stat:DELIVRD err:X1 text:"
    )
    with pytest.raises(ValueError):
        DeliverSm(short_message=text, esm_class=0x04).parse_receipt()
    assert parse_receipt(text).message_id == "77"


@pytest.mark.asyncio
async def test_get_pdu_guards_length_and_keeps_unknown_statuses() -> None:
    async with asyncio.timeout(5):
        esme = GatewayEsme(
            cast(Bind, _FakeBind()), smsc_host="127.0.0.1", smsc_port=1, system_id="a", password="b"
        )
        reader = asyncio.StreamReader()
        resp = struct.pack(">IIII", 17, 0x80000004, 0x400, 3) + b"\x00"
        reader.feed_data(resp)
        esme._reader = reader
        pdu, header = await esme._get_pdu()
        assert pdu == resp
        assert header.command_status == SmppCommandStatus.ESME_RUNKNOWNERR  # real 0x400 is in pdu
        refusal = struct.pack(">IIII", 16, 0x80000009, 0x0E, 1)  # bind refused, no body
        reader.feed_data(refusal)
        pdu, header = await esme._get_pdu()
        assert pdu == refusal + b"\x00"
        assert BindTransceiverResp.from_pdu(pdu, header).command_status == 0x0E
        reader.feed_data(struct.pack(">IIII", 8, 0x80000004, 0, 4))
        with pytest.raises(ValueError, match="framing"):
            await esme._get_pdu()


class _FakeBind:
    name = "fake"

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


# -- bind bookkeeping with a fake store -----------------------------------------------------------


@dataclass
class FakeStore:
    """Records store calls; answers like a store where every part exists."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def record_part_submit(self, mid: int, part: int, now: float, **kw: Any) -> int:
        self.calls.append(("submit", (mid, part)))
        return 1

    async def record_resp(self, mid: int, part: int, now: float, **kw: Any) -> RespOutcome:
        self.calls.append(("resp", (mid, part, kw["command_status"])))
        return RespOutcome(PartState.SUBMITTED, MessageState.SUBMITTING, 0)

    async def requeue(self, mid: int, now: float, **kw: Any) -> MessageState:
        self.calls.append(("requeue", (mid, kw.get("retry_at") is not None)))
        return MessageState.QUEUED

    async def release(self, mid: int, now: float, **kw: Any) -> MessageState:
        self.calls.append(("release", mid))
        return MessageState.QUEUED

    async def finalise(self, mid: int, state: MessageState, now: float, **kw: Any) -> MessageState:
        self.calls.append(("finalise", (mid, state)))
        return MessageState.SUBMITTING

    # The binds use the callback variants; they answer at once, like a committed batch.

    def record_part_submit_nowait(self, mid: int, part: int, now: float, **kw: Any) -> None:
        self.calls.append(("submit", (mid, part)))
        kw["on_done"](1, None)

    def record_resp_nowait(self, mid: int, part: int, now: float, **kw: Any) -> None:
        self.calls.append(("resp", (mid, part, kw["command_status"])))
        kw["on_done"](RespOutcome(PartState.SUBMITTED, MessageState.SUBMITTING, 0), None)

    def requeue_nowait(self, mid: int, now: float, **kw: Any) -> None:
        self.calls.append(("requeue", (mid, kw.get("retry_at") is not None)))
        kw["on_done"](MessageState.QUEUED, None)

    def release_nowait(self, mid: int, now: float, **kw: Any) -> None:
        self.calls.append(("release", mid))
        kw["on_done"](MessageState.QUEUED, None)

    def finalise_nowait(self, mid: int, state: MessageState, now: float, **kw: Any) -> None:
        self.calls.append(("finalise", (mid, state)))
        kw["on_done"](MessageState.SUBMITTING, None)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
def fake_bind() -> tuple[Bind, FakeStore]:
    store = FakeStore()
    clock = LoopClockSync()
    stats = GatewayStats(MetricsAggregator())
    events = Publisher(InMemoryBus(), "gateway", "t")
    ctx = GatewayContext(
        instance="t",
        store=store,  # type: ignore[arg-type]
        clock=clock,
        events=events,
        stats=stats,
        retry=RetryTable(),
        limits=RateLimits(),
        throttle_backoff=BackoffSchedule(base=0.05, factor=1.0, cap=0.05),
        seed=1,
        tasks=TaskTracker(),
        mo=None,  # type: ignore[arg-type]
        receipts=ReceiptInbound(store, clock, events, stats),  # type: ignore[arg-type]
    )
    settings = BindSettings(
        host="127.0.0.1",
        port=1,
        system_id="a",
        password="b",
        system_type="",
        address_range="",
        mode="transceiver",
        window=5,
        enquire_link_interval=30.0,
        socket_timeout=5.0,
        response_timeout=1.0,
        reconnect=BackoffSchedule(),
        queue=20,
    )
    return Bind("b1", settings, ctx), store


class LoopClockSync:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


def _send(bind: Bind, tickets: list[Ticket], first_seq: int = 1) -> None:
    for i, t in enumerate(tickets):
        bind.broker.handed = t
        bind.broker.reserved += 1
        bind.on_sending(t, first_seq + i)


@pytest.mark.asyncio
async def test_bind_multipart_ok_leaves_the_transition_to_the_store(
    fake_bind: tuple[Bind, FakeStore],
) -> None:
    async with asyncio.timeout(5):
        bind, store = fake_bind
        bind.on_link_up()
        attempt, tickets = build_attempt(
            claimed(parts=3),
            plan("x" * 400, "generic"),
            route="default",
            destination=DST,
            source=SRC,
            registered_delivery=True,
        )
        bind.assign(attempt, tickets)
        _send(bind, tickets)
        for seq in (1, 2, 3):
            bind._on_response(seq, 0, f"id{seq}", nack=False)
        await bind.ctx.tasks.join()
        assert store.names() == ["submit"] * 3 + ["resp"] * 3
        assert attempt.outstanding == 0
        assert bind.window.outstanding == 0


@pytest.mark.asyncio
async def test_bind_temporary_error_requeues_once_all_parts_answered(
    fake_bind: tuple[Bind, FakeStore],
) -> None:
    async with asyncio.timeout(5):
        bind, store = fake_bind
        bind.on_link_up()
        attempt, tickets = build_attempt(
            claimed(parts=2),
            plan("x" * 300, "generic"),
            route="default",
            destination=DST,
            source=SRC,
            registered_delivery=True,
        )
        bind.assign(attempt, tickets)
        _send(bind, tickets)
        bind._on_response(1, 0x08, None, nack=False)  # ESME_RSYSERR: retry later
        await bind.ctx.tasks.join()
        assert "requeue" not in store.names()  # part 2 still in flight
        bind._on_response(2, 0, "id2", nack=False)
        await bind.ctx.tasks.join()
        assert store.calls[-1] == ("requeue", (1, True))


@pytest.mark.asyncio
async def test_bind_throttle_keeps_the_part_and_pauses(fake_bind: tuple[Bind, FakeStore]) -> None:
    async with asyncio.timeout(5):
        bind, store = fake_bind
        bind.on_link_up()
        attempt, tickets = build_attempt(
            claimed(),
            plan("x", "generic"),
            route="default",
            destination=DST,
            source=SRC,
            registered_delivery=True,
        )
        bind.assign(attempt, tickets)
        _send(bind, tickets)
        bind._on_response(1, 0x58, None, nack=False)
        await bind.ctx.tasks.join()
        assert bind.throttle.backlog == 1
        assert bind.throttle.is_paused(bind.ctx.clock.now())
        assert attempt.outstanding == 1
        assert tickets[0].state is TicketState.QUEUED
        assert store.names() == ["submit", "resp"]


@pytest.mark.asyncio
async def test_bind_permanent_error_and_link_loss(fake_bind: tuple[Bind, FakeStore]) -> None:
    async with asyncio.timeout(5):
        bind, store = fake_bind
        bind.on_link_up()
        a1, t1 = build_attempt(
            claimed(1),
            plan("x", "generic"),
            route="default",
            destination=DST,
            source=SRC,
            registered_delivery=True,
        )
        a2, t2 = build_attempt(
            claimed(2),
            plan("y", "generic"),
            route="default",
            destination=DST,
            source=SRC,
            registered_delivery=True,
        )
        a3, t3 = build_attempt(
            claimed(3),
            plan("z", "generic"),
            route="default",
            destination=DST,
            source=SRC,
            registered_delivery=True,
        )
        for a, t in ((a1, t1), (a2, t2), (a3, t3)):
            bind.assign(a, t)
        _send(bind, bind.broker.take_all()[:2])  # messages 1 and 2 written, 3 still queued
        bind.broker.push(t3)
        bind._on_response(1, 0x0B, None, nack=False)  # ESME_RINVDSTADR: permanent
        bind.on_link_down("test")  # 2 in flight -> requeue; 3 never sent -> release
        await bind.ctx.tasks.join()
        assert ("finalise", (1, MessageState.FAILED)) in store.calls
        assert ("requeue", (2, False)) in store.calls
        assert ("release", 3) in store.calls
        assert bind.window.outstanding == 0
        assert not bind.correlator.inflight


def _one_part(message_id: int = 1) -> tuple[Attempt, list[Ticket]]:
    return build_attempt(
        claimed(message_id),
        plan("x", "generic"),
        route="default",
        destination=DST,
        source=SRC,
        registered_delivery=True,
    )


@pytest.mark.asyncio
async def test_response_timeout_publishes_submit_timed_out_but_link_loss_does_not(
    fake_bind: tuple[Bind, FakeStore],
) -> None:
    async with asyncio.timeout(5):
        bind, store = fake_bind
        bus = InMemoryBus()
        bind.ctx.events = Publisher(bus, "gateway", "t")
        clock = cast(LoopClockSync, bind.ctx.clock)
        async with bus.subscribe("smsh/v1/gateway/t/submit_timed_out") as sub:
            bind.on_link_up()
            a1, t1 = _one_part(1)
            a2, t2 = _one_part(2)
            bind.assign(a1, t1)
            _send(bind, t1, first_seq=7)
            clock.t += 0.5
            bind.assign(a2, t2)
            _send(bind, t2, first_seq=8)
            clock.t += 0.6  # seq 7 waited 1.1 s > response_timeout 1 s; seq 8 only 0.6 s
            assert bind.check_timeouts(clock.now()) == 1
            bind.on_link_down("test")  # seq 8 is requeued with the link: not a timeout
            await bind.ctx.tasks.join()
            got = [e for _t, e in sub.drain()]
        assert [type(e) for e in got] == [SubmitTimedOut]
        [event] = got
        assert isinstance(event, SubmitTimedOut)
        assert (event.message_id, event.part, event.bind_id, event.sequence_number) == (
            "1",
            1,
            "b1",
            7,
        )
        assert event.waited_ms == pytest.approx(1100.0)
        assert event.at == clock.t
        assert bind.ctx.stats.timeouts == 1
        assert ("requeue", (2, False)) in store.calls


@pytest.mark.asyncio
async def test_bind_counts_submits_and_throttles_and_forgets_the_bind_on_stop(
    fake_bind: tuple[Bind, FakeStore],
) -> None:
    async with asyncio.timeout(5):
        bind, _store = fake_bind
        metrics = bind.ctx.stats.metrics
        clock = cast(LoopClockSync, bind.ctx.clock)
        metrics.snapshot(clock.now())  # opens the first interval
        bind.on_link_up()
        a1, t1 = _one_part(1)
        a2, t2 = _one_part(2)
        bind.assign(a1, t1)
        bind.assign(a2, t2)
        _send(bind, bind.broker.take_all())
        bind._on_response(1, 0x58, None, nack=False)  # ESME_RTHROTTLED
        bind._on_response(2, 0, "id2", nack=False)
        await bind.ctx.tasks.join()
        clock.t += 2.0
        snap = metrics.snapshot(clock.now())
        assert snap is not None
        assert snap.bind_counts == {"b1": {BIND_SUBMITTED: 2, BIND_THROTTLED: 1}}
        assert snap.bind_rates["b1"][BIND_SUBMITTED] == pytest.approx(1.0)
        bind.on_link_down("test")  # a lost link may come back: the bind is still reported
        await bind.ctx.tasks.join()
        clock.t += 2.0
        snap = metrics.snapshot(clock.now())
        assert snap is not None
        assert "b1" in snap.bind_counts
        await bind.stop(0.5)  # gone for good
        clock.t += 2.0
        snap = metrics.snapshot(clock.now())
        assert snap is not None
        assert "b1" not in snap.bind_counts


def test_final_state_of_a_rejected_message_is_rejected() -> None:
    assert final_state_for(MessageState.REJECTED, by_receipt=True) == "rejected"
    assert final_state_for(MessageState.FAILED, by_receipt=True) == "undeliverable"
    assert final_state_for(MessageState.FAILED, by_receipt=False, rejected=True) == "rejected"
    assert final_state_for(MessageState.FAILED, by_receipt=False) == "failed"
