"""SMPP-ERRORS.md, one test per row, over real loopback TCP.

Each test connects raw sockets to a running simulator, sends crafted octets, and checks the exact
answer (command_id, command_status, sequence_number, length, octets where they are fixed) and
whether the connection stays open or closes. Row numbers are those of the table in
/work/shared/domain/SMPP-ERRORS.md.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from simulator.server import ReceiptOrder, Submission, Verdict
from simulator.smpp.codec import encode
from simulator.smpp.constants import CommandStatus as S
from simulator.smpp.pdu import (
    BindReceiver,
    DeliverSm,
    EnquireLink,
    SubmitSm,
    Unbind,
)
from simulator.testing import RunningSimulator, SmppTestClient, running_simulator

pytestmark = pytest.mark.asyncio

HEADER = struct.Struct(">IIII")
GENERIC_NACK = 0x80000000
SUBMIT_SM_RESP = 0x80000004
T = 10.0  # per-test budget, seconds


def header(length: int, command_id: int, status: int, seq: int) -> bytes:
    return HEADER.pack(length, command_id, status, seq)


def nack(status: int, seq: int) -> bytes:
    return header(16, GENERIC_NACK, status, seq)


def raw_submit(
    seq: int,
    *,
    src_ton: int = 5,
    src_npi: int = 0,
    src: bytes = b"ACME",
    dst_ton: int = 1,
    dst_npi: int = 1,
    dst: bytes = b"819012345678",
    esm: int = 0,
    prio: int = 0,
    sched: bytes = b"",
    valid: bytes = b"",
    rd: int = 0,
    dcs: int = 0,
    sm: bytes = b"hi",
    sm_length: int | None = None,
    tail: bytes = b"",
) -> bytes:
    """A submit_sm built octet by octet, so any field can be wrong."""
    body = b"".join(
        (
            b"\x00",
            bytes((src_ton, src_npi)),
            src + b"\x00",
            bytes((dst_ton, dst_npi)),
            dst + b"\x00",
            bytes((esm, 0, prio)),
            sched + b"\x00",
            valid + b"\x00",
            bytes((rd, 0, dcs, 0, len(sm) if sm_length is None else sm_length)),
            sm,
            tail,
        )
    )
    return header(16 + len(body), 4, 0, seq) + body


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


@asynccontextmanager
async def simulator(
    config: Mapping[str, Any] | None = None, **kwargs: Any
) -> AsyncIterator[RunningSimulator]:
    async with (
        asyncio.timeout(T),
        running_simulator(dict(config or {}), stop_grace=0.1, **kwargs) as sim,
    ):
        yield sim


async def connect(sim: RunningSimulator) -> SmppTestClient:
    return await SmppTestClient.connect(sim.host, sim.port)


async def bound(sim: RunningSimulator, mode: str = "transceiver", **kwargs: Any) -> SmppTestClient:
    client = await connect(sim)
    response = await client.bind(mode=mode, **kwargs)
    assert response.command_status == 0
    return client


async def answer(client: SmppTestClient, data: bytes) -> tuple[int, int, int, int]:
    """Send octets; return the next frame's header (length, id, status, seq)."""
    client.send_bytes(data)
    frame = await client.read_frame(3.0)
    assert frame is not None, "connection closed instead of answering"
    length, command_id, status, seq = HEADER.unpack_from(frame)
    assert length == len(frame)
    if status:
        assert length == 16, "row 28: an error response has no body"
    return length, command_id, status, seq


async def still_open(client: SmppTestClient) -> None:
    """The session answers an enquire_link (and so was kept)."""
    seq = client.next_sequence()
    frame_header = await answer(client, header(16, 0x15, 0, seq))
    assert frame_header == (16, 0x80000015, 0, seq)


# --- rows 1-3: framing -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 8, 15])
async def test_row_01_command_length_below_16(length: int) -> None:
    async with simulator() as sim:
        client = await connect(sim)
        client.send_bytes(header(length, 0x15, 0, 9))
        assert await client.read_frame() == nack(S.ESME_RINVCMDLEN, 0)
        assert await client.closed()


@pytest.mark.parametrize("length", [7425, 0x7FFFFFFF, 0x80000010, 0xFFFFFFFF])
async def test_row_02_command_length_above_max_or_bit31(length: int) -> None:
    async with simulator() as sim:
        client = await connect(sim)
        # Only the header: the answer must not wait for (or buffer) the announced body.
        client.send_bytes(header(length, 4, 0, 9))
        assert await client.read_frame(1.0) == nack(S.ESME_RINVCMDLEN, 0)
        assert await client.closed()


async def test_row_03_partial_pdu_stall() -> None:
    async with simulator({"timers": {"pdu_read_s": 0.3}}) as sim:
        short = await connect(sim)
        short.send_bytes(header(40, 0x15, 0, 77)[:10])
        assert await short.read_frame(2.0) == nack(S.ESME_RINVCMDLEN, 0)
        assert await short.closed()
        # With the whole header in, the nack echoes its sequence number.
        partial = await connect(sim)
        partial.send_bytes(header(40, 4, 0, 77) + b"\x00" * 4)
        assert await partial.read_frame(2.0) == nack(S.ESME_RINVCMDLEN, 77)
        assert await partial.closed()


# --- rows 4-7: commands and states -------------------------------------------------------------


@pytest.mark.parametrize("command_id", [0x00000099, 0x00000200, 0x80000099])
async def test_row_04_unknown_command_id(command_id: int) -> None:
    async with simulator() as sim:
        client = await connect(sim)
        client.send_bytes(header(16, command_id, 0, 5))
        assert await client.read_frame() == nack(S.ESME_RINVCMDID, 5)
        await still_open(client)


async def test_row_05_fields_overrun_command_length() -> None:
    async with simulator() as sim:
        client = await bound(sim)
        whole = raw_submit(31)
        cut = whole[:20]  # ends inside source_addr
        cut = header(len(cut), 4, 0, 31) + cut[16:]
        assert await answer(client, cut) == (16, SUBMIT_SM_RESP, S.ESME_RINVCMDLEN, 31)
        # A header-only request with a body.
        assert await answer(client, header(20, 0x15, 0, 32) + b"\x00" * 4) == (
            16,
            0x80000015,
            S.ESME_RINVCMDLEN,
            32,
        )
        await still_open(client)


async def test_row_06_request_not_allowed_in_state() -> None:
    async with simulator() as sim:
        client = await connect(sim)
        assert await answer(client, raw_submit(3)) == (16, SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, 3)
        await still_open(client)  # project choice: keep the session
        receiver = await bound(sim, mode="receiver")
        assert await answer(receiver, raw_submit(4)) == (16, SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, 4)
        # deliver_sm is the SMSC's to send, never the ESME's.
        deliver = encode(DeliverSm(5, source_addr="A", destination_addr="B"))
        assert await answer(receiver, deliver) == (16, 0x80000005, S.ESME_RINVBNDSTS, 5)
        await still_open(receiver)


async def test_row_07_bind_when_bound() -> None:
    async with simulator() as sim:
        client = await bound(sim)
        again = encode(BindReceiver(9, system_id="esme", password="pw"))
        assert await answer(client, again) == (16, 0x80000001, S.ESME_RALYBND, 9)
        assert (await answer(client, raw_submit(10)))[1:3] == (SUBMIT_SM_RESP, 0)


# --- rows 8-10: binds refused ------------------------------------------------------------------

ACCOUNTS = {
    "accounts": [
        {"system_id": "acme", "password": "secret", "max_binds": 1},
        {"system_id": "remote", "password": "secret", "allow_from": ["10.0.0.0/8"]},
    ],
    "lockout": {"max_failures": 3, "window_s": 60, "lockout_s": 300},
}


@pytest.mark.parametrize(("system_id", "password"), [("acme", "wrong"), ("nobody", "secret")])
async def test_row_08_bad_password_or_unknown_system_id(system_id: str, password: str) -> None:
    async with simulator(ACCOUNTS) as sim:
        client = await connect(sim)
        response = await client.bind(system_id, password)
        assert response.command_status == S.ESME_RINVPASWD
        assert await client.closed()


def raw_bind(seq: int, system_id: bytes, password: bytes) -> bytes:
    body = system_id + b"\x00" + password + b"\x00" + b"\x00" + bytes((0x34, 0, 0)) + b"\x00"
    return header(16 + len(body), 9, 0, seq) + body


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [(b"A" * 16, b"pw", S.ESME_RINVSYSID), (b"acme", b"P" * 9, S.ESME_RINVPASWD)],
)
async def test_row_09_system_id_or_password_too_long(
    system_id: bytes, password: bytes, status: int
) -> None:
    async with simulator(ACCOUNTS) as sim:
        client = await connect(sim)
        assert await answer(client, raw_bind(2, system_id, password)) == (
            16,
            0x80000009,
            status,
            2,
        )
        assert await client.closed()


async def test_row_10_bind_refused_by_policy() -> None:
    async with simulator(ACCOUNTS) as sim:
        # IP not allowed.
        client = await connect(sim)
        assert (await client.bind("remote", "secret")).command_status == S.ESME_RBINDFAIL
        assert await client.closed()
        # max_binds reached.
        first = await bound(sim, system_id="acme", password="secret")
        second = await connect(sim)
        assert (await second.bind("acme", "secret")).command_status == S.ESME_RBINDFAIL
        assert await second.closed()
        await still_open(first)
        await first.close()
        # Locked out after failed binds: even the right password is refused.
        for _ in range(3):
            guess = await connect(sim)
            assert (await guess.bind("acme", "guess")).command_status == S.ESME_RINVPASWD
            await guess.closed()
        locked = await connect(sim)
        assert (await locked.bind("acme", "secret")).command_status == S.ESME_RBINDFAIL
        assert await locked.closed()


# --- rows 11-13: flow control ------------------------------------------------------------------


async def statuses(client: SmppTestClient, frames: list[bytes]) -> list[int]:
    client.send_bytes(b"".join(frames))
    out: dict[int, int] = {}
    while len(out) < len(frames):
        frame = await client.read_frame(3.0)
        assert frame is not None
        _, command_id, status, seq = HEADER.unpack_from(frame)
        if command_id == SUBMIT_SM_RESP:
            out[seq] = status
    return [out[seq] for seq in sorted(out)]


async def test_row_11_rate_quota_exceeded() -> None:
    config = {"default_account": {"max_tps": 2, "burst": 2}}
    async with simulator(config) as sim:
        client = await bound(sim)
        got = await statuses(client, [raw_submit(seq) for seq in range(1, 6)])
        assert got == [0, 0, S.ESME_RTHROTTLED, S.ESME_RTHROTTLED, S.ESME_RTHROTTLED]
        await asyncio.sleep(0.6)
        assert await statuses(client, [raw_submit(6)]) == [0]  # the bucket refilled


async def test_row_12_window_exceeded_is_answered_never_dropped() -> None:
    async with simulator({"default_account": {"window": 2}}) as sim:
        client = await bound(sim)
        got = await statuses(client, [raw_submit(seq) for seq in range(1, 7)])
        assert got == [0, 0] + [S.ESME_RTHROTTLED] * 4
        await still_open(client)


class Failing:
    """A handler with an internal fault."""

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        raise RuntimeError("internal fault")

    def advance(self, now: float) -> list[ReceiptOrder]:
        return []

    def next_due(self) -> float | None:
        return None


async def test_row_13_queue_full_and_internal_fault() -> None:
    config = {"default_account": {"max_queue": 1}, "receipts": {"delay_s": 60}}
    async with simulator(config) as sim:
        client = await bound(sim)
        assert await statuses(client, [raw_submit(1), raw_submit(2)]) == [0, S.ESME_RMSGQFUL]
        await still_open(client)
    async with simulator(handler=Failing()) as sim:
        client = await bound(sim)
        assert await answer(client, raw_submit(1)) == (16, SUBMIT_SM_RESP, S.ESME_RSYSERR, 1)
        await still_open(client)


# --- rows 14-19: field checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        raw_submit(1, sm=b"x" * 255),  # sm_length 255 > 254
        raw_submit(1, sm=b"abc", sm_length=10),  # sm_length past the end
        raw_submit(1, dcs=8, sm=b"\x30\x42\x30"),  # UCS-2 with an odd octet count
    ],
    ids=["sm_length_255", "sm_length_overrun", "ucs2_odd"],
)
async def test_row_14_bad_message_length(frame: bytes) -> None:
    async with simulator() as sim:
        client = await bound(sim)
        assert await answer(client, frame) == (16, SUBMIT_SM_RESP, S.ESME_RINVMSGLEN, 1)
        await still_open(client)


async def test_row_15_short_message_and_message_payload() -> None:
    async with simulator() as sim:
        client = await bound(sim)
        frame = raw_submit(1, sm=b"hi", tail=tlv(0x0424, b"payload"))
        assert await answer(client, frame) == (16, SUBMIT_SM_RESP, S.ESME_RINVMSGLEN, 1)
        await still_open(client)


@pytest.mark.parametrize(
    ("tail", "status"),
    [
        (struct.pack(">HH", 0x0204, 10) + b"\x00\x01", S.ESME_RINVPARLEN),  # length overruns
        (b"\x02\x04", S.ESME_RINVOPTPARSTREAM),  # truncated TLV header
        (tlv(0x0204, b"\x00"), S.ESME_RINVPARLEN),  # user_message_reference must be 2 octets
    ],
    ids=["overrun", "truncated_header", "wrong_fixed_length"],
)
async def test_row_16_tlv_overrun_or_truncated(tail: bytes, status: int) -> None:
    async with simulator() as sim:
        client = await bound(sim)
        assert await answer(client, raw_submit(1, tail=tail)) == (16, SUBMIT_SM_RESP, status, 1)
        await still_open(client)


async def test_row_17_unknown_tlv_is_ignored() -> None:
    async with simulator() as sim:
        client = await bound(sim)
        frame = raw_submit(1, tail=tlv(0x1999, b"vendor") + tlv(0x4321, b""))
        length, command_id, status, seq = await answer(client, frame)
        assert (command_id, status, seq) == (SUBMIT_SM_RESP, 0, 1)
        assert length > 16


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"src_ton": 7}, S.ESME_RINVSRCTON),
        ({"src_npi": 2}, S.ESME_RINVSRCNPI),
        ({"dst_ton": 7}, S.ESME_RINVDSTTON),
        ({"dst_npi": 2}, S.ESME_RINVDSTNPI),
        ({"esm": 0x04}, S.ESME_RINVESMCLASS),
        ({"rd": 0x21}, S.ESME_RINVREGDLVFLG),
        ({"prio": 4}, S.ESME_RINVPRTFLG),
        ({"sched": b"26130109000000+x"}, S.ESME_RINVSCHED),
        ({"sched": b"2601"}, S.ESME_RINVSCHED),  # the codec's length check
        ({"valid": b"261301090000000+"}, S.ESME_RINVEXPIRY),
        ({"valid": b"200101090000000+"}, S.ESME_RINVEXPIRY),  # already expired
    ],
    ids=lambda v: str(v) if isinstance(v, int) else "-".join(map(str, v)),
)
async def test_row_18_bad_ton_npi_esm_class_regdlv_priority_time(
    fields: dict[str, Any], status: int
) -> None:
    async with simulator() as sim:
        client = await bound(sim)
        assert await answer(client, raw_submit(1, **fields)) == (16, SUBMIT_SM_RESP, status, 1)
        await still_open(client)


@pytest.mark.parametrize("data_coding", [0x0B, 0x0C, 0x0F])
async def test_row_19_reserved_data_coding(data_coding: int) -> None:
    async with simulator() as sim:
        v34 = await bound(sim)
        assert await answer(v34, raw_submit(1, dcs=data_coding)) == (
            16,
            SUBMIT_SM_RESP,
            S.ESME_RSUBMITFAIL,
            1,
        )
        v50 = await bound(sim, interface_version=0x50)
        assert await answer(v50, raw_submit(1, dcs=data_coding)) == (
            16,
            SUBMIT_SM_RESP,
            S.ESME_RINVDCS,
            1,
        )
        await still_open(v34)


# --- rows 20-22: responses from the ESME ---------------------------------------------------------

FAST_RETRY = {"delivery": {"retry_delay_s": 0.2}, "receipts": {"delay_s": 0}}


async def test_row_20_error_response_with_a_body() -> None:
    async with simulator(FAST_RETRY) as sim:
        client = await bound(sim, mode="receiver")
        sim.server.inject_mo("esme", "819012345678", "12345", "hello")
        deliver = await client.expect(DeliverSm)
        body = b"abc\x00"
        client.send_bytes(
            header(16 + len(body), 0x80000005, S.ESME_RX_T_APPN, deliver.sequence_number) + body
        )
        again = await client.expect(DeliverSm, 3.0)  # accepted the status: redelivered
        assert again.short_message == deliver.short_message
        assert sim.server.stats.redeliveries == 1


async def test_row_21_response_with_unknown_status_is_a_failure() -> None:
    async with simulator(FAST_RETRY) as sim:
        client = await bound(sim, mode="receiver")
        sim.server.inject_mo("esme", "819012345678", "12345", "hello")
        deliver = await client.expect(DeliverSm)
        client.send_bytes(header(16, 0x80000005, 0x22, deliver.sequence_number))
        await still_open(client)  # no nack, no disconnect
        assert sim.server.stats.deliveries_dropped == 1
        assert sim.server.stats.mo_sent == 0


async def test_row_22_response_matching_nothing_is_dropped() -> None:
    async with simulator() as sim:
        client = await bound(sim)
        client.send_bytes(header(16, 0x80000005, 0, 12345))
        client.send_bytes(header(17, 0x80000004, 0, 12346) + b"\x00")
        await still_open(client)  # the next frame is the enquire_link_resp: nothing was nacked


# --- rows 23-26: keep-alive, timers, unbind -------------------------------------------------------


async def test_row_23_enquire_link_in_any_state() -> None:
    async with simulator() as sim:
        client = await connect(sim)
        client.send_bytes(header(16, 0x15, 0, 0x1234))
        assert await client.read_frame() == header(16, 0x80000015, 0, 0x1234)
        await client.bind()
        client.send_bytes(header(16, 0x15, 0, 0x1235))
        assert await client.read_frame() == header(16, 0x80000015, 0, 0x1235)


async def test_row_24_enquire_link_unanswered_closes() -> None:
    config = {"timers": {"enquire_link_s": 0.2, "response_s": 0.3}}
    async with simulator(config) as sim:
        client = await bound(sim)
        probe = await client.read(2.0)
        assert isinstance(probe, EnquireLink)
        assert 1 <= probe.sequence_number <= 0x7FFFFFFF
        assert await client.closed(3.0)
        assert sim.server.stats.binds == 0


async def test_row_25_no_bind_within_session_init_timer() -> None:
    async with simulator({"timers": {"session_init_s": 0.3}}) as sim:
        client = await connect(sim)
        assert await client.closed(3.0)


class Slow:
    """Accepts everything, answers after 0.3 simulated seconds."""

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        return Verdict(delay_s=0.3)

    def advance(self, now: float) -> list[ReceiptOrder]:
        return []

    def next_due(self) -> float | None:
        return None


async def test_row_26_unbind_finishes_inbound_then_closes() -> None:
    async with simulator(handler=Slow()) as sim:
        client = await bound(sim)
        client.send_bytes(raw_submit(40) + header(16, 6, 0, 41))
        first = await client.read_frame(3.0)
        assert first is not None
        assert HEADER.unpack_from(first)[1:] == (SUBMIT_SM_RESP, 0, 40)
        assert await client.read_frame() == header(16, 0x80000006, 0, 41)
        assert await client.closed()


async def test_row_26_unbind_requeues_outbound_in_flight() -> None:
    async with simulator() as sim:
        client = await bound(sim, mode="receiver")
        sim.server.inject_mo("esme", "819012345678", "12345", "hello")
        await client.expect(DeliverSm)  # left unanswered
        client.send(Unbind())
        assert await client.closed()
        assert sim.server.queued_deliveries == 1
        later = await bound(sim, mode="receiver")
        (again,) = await later.deliveries(1)
        assert again.short_message == b"hello"


# --- rows 27-28: sequence numbers and error responses --------------------------------------------


async def test_row_27_sequence_numbers() -> None:
    async with simulator({"receipts": {"delay_s": 0}}) as sim:
        client = await connect(sim)
        client.send_bytes(header(16, 0x15, 0, 0x7FFFFFFF))
        assert await client.read_frame() == header(16, 0x80000015, 0, 0x7FFFFFFF)
        await client.bind()
        submit = SubmitSm(
            0x7FFFFFFE, source_addr="A", destination_addr="8190", registered_delivery=1
        )
        response = await client.request(submit)
        assert response.sequence_number == 0x7FFFFFFE
        assert response.command_status == 0
        (receipt,) = await client.deliveries(1)
        assert 1 <= receipt.sequence_number <= 0x7FFFFFFF


async def test_row_28_error_responses_have_no_body() -> None:
    async with simulator() as sim:
        client = await bound(sim)
        for frame in (
            raw_submit(1, src_ton=9),
            raw_submit(2, sm=b"x" * 255),
            header(16, 0x99, 0, 3),
        ):
            length, _, status, _ = await answer(client, frame)
            assert status != 0
            assert length == 16
