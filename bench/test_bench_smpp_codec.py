"""Micro benchmarks of the simulator's SMPP core: codec per PDU type, framing, session hot path.

Run: .venv/bin/pytest bench/test_bench_smpp_codec.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from simulator.smpp.codec import decode, encode
from simulator.smpp.constants import Tag
from simulator.smpp.events import PduReceived
from simulator.smpp.framing import Framer
from simulator.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    EnquireLink,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    tlv_cstr,
    tlv_u8,
)
from simulator.smpp.session import Role, Session, SessionConfig

RNG = random.Random(20261124)

SUBMIT_SM = SubmitSm(
    sequence_number=1234,
    source_addr_ton=5,
    source_addr="ACME",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="819012345678",
    registered_delivery=1,
    data_coding=8,
    short_message="お支払い期限が過ぎております。至急ご確認ください。".encode("utf-16-be"),
)
SUBMIT_SM_RESP = SubmitSmResp(sequence_number=1234, message_id="5f3a9c01e2d4")
DELIVER_SM = DeliverSm(
    sequence_number=99,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="819012345678",
    dest_addr_ton=5,
    destination_addr="ACME",
    esm_class=0x04,
    short_message=(
        b"id:5f3a9c01e2d4 sub:001 dlvrd:001 submit date:2611241200 done date:2611241201"
        b" stat:DELIVRD err:000 text:"
    ),
    tlvs=(tlv_cstr(Tag.RECEIPTED_MESSAGE_ID, "5f3a9c01e2d4"), tlv_u8(Tag.MESSAGE_STATE, 2)),
)
ENQUIRE_LINK = EnquireLink(sequence_number=7)
BIND = BindTransceiver(sequence_number=1, system_id="esme01", password="secret", system_type="")

CASES: list[tuple[str, Pdu]] = [
    ("submit_sm", SUBMIT_SM),
    ("submit_sm_resp", SUBMIT_SM_RESP),
    ("deliver_sm", DELIVER_SM),
    ("enquire_link", ENQUIRE_LINK),
    ("bind_transceiver", BIND),
]


@pytest.mark.parametrize("pdu", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bench_encode(benchmark: Any, pdu: Pdu) -> None:
    data = benchmark(encode, pdu)
    assert decode(data) == pdu


@pytest.mark.parametrize("pdu", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bench_decode(benchmark: Any, pdu: Pdu) -> None:
    data = encode(pdu)
    assert benchmark(decode, data) == pdu


def _mixed_stream(count: int) -> bytes:
    choices = [SUBMIT_SM, SUBMIT_SM_RESP, DELIVER_SM, ENQUIRE_LINK]
    return b"".join(encode(RNG.choice(choices)) for _ in range(count))


STREAM_1000 = _mixed_stream(1000)


def test_bench_framing_1000_pdus_one_buffer(benchmark: Any) -> None:
    def run() -> int:
        framer = Framer()
        framer.feed(STREAM_1000)
        return sum(1 for _ in framer.frames())

    assert benchmark(run) == 1000


def test_bench_framing_1000_pdus_4k_reads(benchmark: Any) -> None:
    chunks = [STREAM_1000[i : i + 4096] for i in range(0, len(STREAM_1000), 4096)]

    def run() -> int:
        framer = Framer()
        frames = 0
        for chunk in chunks:
            framer.feed(chunk)
            frames += sum(1 for _ in framer.frames())
        return frames

    assert benchmark(run) == 1000


SUBMITS_1000 = b"".join(
    encode(
        SubmitSm(
            sequence_number=seq,
            source_addr="ACME",
            destination_addr="819012345678",
            short_message=b"Your payment is overdue.",
        )
    )
    for seq in range(2, 1002)
)


def test_bench_session_smsc_1000_submits(benchmark: Any) -> None:
    """The SMSC hot path: 1000 submit_sm in, 1000 submit_sm_resp out (frame, decode, check, book,
    event, encode), per round."""

    def run() -> int:
        config = SessionConfig(enquire_link_interval=None, inactivity_timeout=None)
        smsc = Session(Role.SMSC, 0.0, config)
        smsc.receive_data(encode(BindTransceiver(sequence_number=1, system_id="esme")), 0.0)
        smsc.next_event()
        smsc.send(BindTransceiverResp(sequence_number=1, system_id="SIM"), 0.0)
        smsc.receive_data(SUBMITS_1000, 1.0)
        out: list[bytes] = []
        while (event := smsc.next_event()) is not None:
            assert isinstance(event, PduReceived)
            reply = SubmitSmResp(sequence_number=event.pdu.sequence_number, message_id="m")
            out.append(smsc.send(reply, 1.0))
        return len(out)

    assert benchmark(run) == 1000
