"""gateway.pdu: the fast deliver_sm decoder and submit_sm builder give what aiosmpplib gives.

The deliver_sm decoder is compared with ``DeliverSm.from_pdu`` on hand-built PDUs (receipts,
MO in every encoding the gateway meets, TLVs of each kind) and on seeded random corruptions of
them: whenever it takes a PDU, its message equals aiosmpplib's, private attributes included;
whatever it refuses, aiosmpplib decodes (or refuses) as before. The submit_sm side compares
`PlannedSubmitSm` (built without aiosmpplib's checks, body encoded by `gateway.pdu`) with the
same message built through aiosmpplib's constructor and ``SubmitSm.pdu``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from typing import Any, cast

import pytest
from aiosmpplib import (
    ESME,
    DeliverSm,
    DeliverSmResp,
    PduHeader,
    SmppCommand,
    SmppCommandStatus,
    SubmitSm,
)

from gateway.esme import (
    _CODEC_NAME,
    GSM_CODEC,
    Attempt,
    Bind,
    GatewayEsme,
    PlannedSubmitSm,
    RawOptionalParam,
    StoreCorrelator,
    ThrottleGate,
    Ticket,
)
from gateway.pdu import DeliverSmDecoder, new_optional_param, new_phone_number
from gateway.policy import BackoffSchedule, ThrottleState
from sms.alphabet import Encoding
from sms.clock import SystemClock
from sms.numbers import Npi, SmppAddress, Ton

CODECS = {"gsm0338": GSM_CODEC}


def body(
    *,
    text: bytes,
    esm_class: int = 0x04,
    data_coding: int = 0,
    tlvs: list[tuple[int, bytes]] | None = None,
    service_type: bytes = b"",
    source: bytes = b"819012345678",
    destination: bytes = b"LOADTEST",
    times: bytes = b"\x00\x00",
) -> bytes:
    parts = [
        service_type + b"\x00",
        bytes([1, 1]),
        source + b"\x00",
        bytes([5, 0]),
        destination + b"\x00",
        bytes([esm_class, 0, 0]),
        times,
        bytes([1, 0, data_coding, 0, len(text)]),
        text,
    ]
    for tag, value in tlvs or []:
        parts.append(struct.pack(">HH", tag, len(value)) + value)
    return b"".join(parts)


def pdu_of(data: bytes, seq: int = 7) -> bytes:
    return struct.pack(">IIII", 16 + len(data), 0x00000005, 0, seq) + data


RECEIPT = (
    b"id:123 sub:001 dlvrd:001 submit date:2611241200 done date:2611241200 stat:DELIVRD"
    b" err:000 text:"
)
SAMPLES: list[bytes] = [
    body(text=RECEIPT, tlvs=[(0x001E, b"123\x00"), (0x0427, b"\x02")]),
    body(text=RECEIPT),
    body(text=RECEIPT, tlvs=[(0x0423, b"\x03\x00\x05")]),  # network_error_code: string type
    body(text=RECEIPT, tlvs=[(0x1500, b"vendor"), (0x0204, b"\x00\x05")]),
    body(text=RECEIPT, tlvs=[(0x130C, b"")]),  # alert_on_message_delivery: a flag
    body(text=b"", tlvs=[(0x0424, RECEIPT)]),  # message_payload
    body(text=b"hello @ \x1b\x65", esm_class=0),  # MO, GSM 03.38 with an escape
    body(text="héllo".encode("latin-1"), esm_class=0, data_coding=3),
    body(text="日本語".encode("utf-16-be"), esm_class=0, data_coding=8),
    body(text=b"\x01\x02\x7f", esm_class=0, data_coding=4),  # decoded as ASCII (!)
    body(text=b"plain", esm_class=0, data_coding=1),
    body(text=b"svc", esm_class=0, service_type=b"WAP"),
    body(text=b"\x05\x00\x03\x2a\x02\x01hi", esm_class=0x40),  # UDHI: aiosmpplib's job
    body(text=b"later", esm_class=0, times=b"261124120000000+\x00\x00"),  # a schedule time
    body(text=b"x", service_type=b"TOOLONG"),  # aiosmpplib refuses service_type > 5
    body(text=b"x", source=b"1" * 21),  # and an address > 20 characters
    body(text=b"x", data_coding=0x0B),  # an unknown data_coding
    body(text=b""),  # neither short_message nor message_payload
    body(text=b"both", tlvs=[(0x0424, b"payload")]),
    body(text=b"x", tlvs=[(0x0427, b"\x00\x00\x02")]),  # an integer TLV of 3 octets
]


def slow(pdu: bytes) -> Any:
    length, _command, _status, seq = struct.unpack_from(">IIII", pdu)
    header = PduHeader(length, SmppCommand.DELIVER_SM, SmppCommandStatus.ESME_ROK, seq)
    try:
        return DeliverSm.from_pdu(pdu, header, "gsm0338", CODECS)
    except (ValueError, LookupError, struct.error, IndexError) as exc:
        return exc


def check(decoder: DeliverSmDecoder, pdu: bytes) -> Any:
    length, _command, _status, seq = struct.unpack_from(">IIII", pdu)
    fast = decoder.decode(pdu, length, seq)
    if fast is not None:
        expected = slow(pdu)
        assert not isinstance(expected, Exception), (pdu, expected)
        assert fast == expected
        assert fast.__dict__ == expected.__dict__
        assert fast.is_receipt() == expected.is_receipt()
    return fast


def test_common_pdus_are_taken_and_equal() -> None:
    decoder = DeliverSmDecoder("gsm0338", CODECS)
    taken = [check(decoder, pdu_of(data)) for data in SAMPLES]
    # The receipts and MO the gateway meets every second are taken (not left to aiosmpplib).
    assert all(message is not None for message in taken[:12])
    # UDHI, schedule times, and everything aiosmpplib refuses are left to it.
    assert all(message is None for message in taken[12:])
    receipt = taken[0]
    assert receipt.short_message == RECEIPT.decode()
    assert [(p.tag, p.value) for p in receipt.optional_params] == [(0x001E, "123"), (0x0427, 2)]


def corrupted_pdus(seed: int, count: int = 3000) -> Iterator[tuple[bytes, list[bytes]]]:
    """`count` samples damaged 1-3 times (octets changed, cut or inserted), each with its
    variants whose command_length disagrees with the bytes read."""
    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(rng.choice(SAMPLES[:12]))
        for _ in range(rng.randint(1, 3)):
            if not data:
                break
            kind = rng.random()
            if kind < 0.6:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif kind < 0.8:
                del data[rng.randrange(len(data)) :]
            else:
                data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        pdu = pdu_of(bytes(data))
        wrong = [
            struct.pack(">I", len(pdu) + delta) + pdu[4:]
            for delta in (-1, 1)
            if len(pdu) + delta >= 16
        ]
        yield pdu, wrong


def test_corrupted_pdus_match_aiosmpplib_or_are_refused() -> None:
    decoder = DeliverSmDecoder("gsm0338", CODECS)
    taken = 0
    for pdu, wrong in corrupted_pdus(20261124):
        taken += check(decoder, pdu) is not None
        for variant in wrong:
            check(decoder, variant)
    assert taken > 100  # the property was exercised on PDUs the decoder accepted


def test_data_coding_zero_follows_the_default_encoding() -> None:
    data = pdu_of(body(text=b"abc", esm_class=0))
    length, _c, _s, seq = struct.unpack_from(">IIII", data)
    header = PduHeader(length, SmppCommand.DELIVER_SM, SmppCommandStatus.ESME_ROK, seq)
    fast = DeliverSmDecoder("latin_1", None).decode(data, length, seq)
    assert fast is not None
    assert fast.__dict__ == DeliverSm.from_pdu(data, header, "latin_1", None).__dict__
    assert fast.encoding == "latin_1"


# -- submit_sm ------------------------------------------------------------------------------


class ReferenceSubmitSm(SubmitSm):  # type: ignore[misc]
    """The planned submit_sm built the way aiosmpplib builds one (every check, its pdu())."""

    octets: bytes

    def smpp_encode(self, text: str) -> bytes:
        return self.octets


def reference(ticket: Ticket) -> Any:
    params: list[Any] = []
    if ticket.sar is not None:
        ref, total, seq = ticket.sar
        params = [new_optional_param(0x020C, ref), new_optional_param(0x020E, total)]
        params.append(new_optional_param(0x020F, seq))
    params.extend(RawOptionalParam(tag, value) for tag, value in ticket.tlvs)
    from datetime import UTC, datetime

    from aiosmpplib import NPI, TON, PhoneNumber

    deadline = ticket.attempt.deadline
    msg = ReferenceSubmitSm(
        short_message="" if ticket.as_payload else "-",
        message_payload="-" if ticket.as_payload else "",
        source=PhoneNumber(ticket.source.addr, TON(ticket.source.ton), NPI(ticket.source.npi)),
        destination=PhoneNumber(
            ticket.destination.addr, TON(ticket.destination.ton), NPI(ticket.destination.npi)
        ),
        esm_class=ticket.esm_class,
        priority_flag=ticket.priority,
        registered_delivery=ticket.registered_delivery,
        encoding=_CODEC_NAME[ticket.encoding],
        optional_params=params,
        validity_period=datetime.fromtimestamp(deadline, UTC) if deadline else None,
        log_id=f"{ticket.message_id}:{ticket.part}",
    )
    msg.octets = ticket.user_data
    return msg


def make_ticket(
    *,
    user_data: bytes = b"hello",
    as_payload: bool = False,
    encoding: Encoding = Encoding.GSM7,
    esm_class: int = 0,
    sar: tuple[int, int, int] | None = None,
    deadline: float | None = None,
    tlvs: tuple[tuple[int, bytes], ...] = (),
    priority: int = 0,
    registered_delivery: int = 1,
) -> Ticket:
    attempt = Attempt(42, 1, 1, deadline, None, outstanding=1)
    return Ticket(
        attempt=attempt,
        part=1,
        total=1,
        source=SmppAddress(Ton.ALPHANUMERIC, Npi.UNKNOWN, "LOADTEST"),
        destination=SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "819012345678"),
        user_data=user_data,
        as_payload=as_payload,
        encoding=encoding,
        esm_class=esm_class,
        sar=sar,
        registered_delivery=registered_delivery,
        priority=priority,
        route="default",
        sender="LOADTEST",
        tlvs=tlvs,
    )


@pytest.mark.parametrize(
    "ticket",
    [
        make_ticket(),
        make_ticket(user_data=b"\x05\x00\x03\x2a\x02\x01" + b"x" * 134, esm_class=0x40),
        make_ticket(user_data="日本".encode("utf-16-be"), encoding=Encoding.UCS2, priority=3),
        make_ticket(user_data=b"y" * 300, as_payload=True),
        make_ticket(user_data=b"z" * 300),  # over 254 octets: aiosmpplib moves it to a TLV
        make_ticket(sar=(7, 2, 1), tlvs=((0x1500, "Ōwner".encode()),)),
        make_ticket(sar=(7, 2, 2), esm_class=0x40),  # UDHI drops the sar_* TLVs
        make_ticket(deadline=1_795_000_000.5, registered_delivery=0),
        make_ticket(user_data=b"\x00\xff", encoding=Encoding.BINARY),
        make_ticket(user_data=b"caf\xe9", encoding=Encoding.LATIN1),
    ],
)
def test_planned_submit_sm_matches_aiosmpplib(ticket: Ticket) -> None:
    fast = PlannedSubmitSm.for_ticket(ticket)
    ref = reference(ticket)
    for message in (fast, ref):
        message.set_encoding_info("gsm0338", CODECS)
        message.sequence_num = 1234
    assert fast.pdu() == ref.pdu()
    fast.sequence_num = 1235  # a resend: new header, the body encoded once
    ref.sequence_num = 1235
    assert fast.pdu() == ref.pdu()
    mine = {k: v for k, v in fast.__dict__.items() if k not in ("ticket", "_body")}
    theirs = {k: v for k, v in ref.__dict__.items() if k != "octets"}
    # aiosmpplib's pdu() caches the encoded octets; ours keeps the body instead.
    theirs["_encoded_message"] = mine["_encoded_message"]
    assert mine == theirs


def test_bad_addresses_are_refused_like_aiosmpplib() -> None:
    with pytest.raises(ValueError):
        new_phone_number("1" * 21, 1, 1)
    with pytest.raises(ValueError):
        new_phone_number("1", 9, 1)
    ticket = make_ticket()
    ticket.destination = SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "81901234567é")
    message = PlannedSubmitSm.for_ticket(ticket)
    with pytest.raises(ValueError):
        message.pdu()


# -- responses ------------------------------------------------------------------------------


class _FakeBind:
    name = "fake"

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def _esme() -> tuple[GatewayEsme, StoreCorrelator, ThrottleGate]:
    correlator = StoreCorrelator()
    clock = SystemClock()
    gate = ThrottleGate(ThrottleState(BackoffSchedule(base=0.05, factor=1.0, cap=0.05)), clock)
    esme = GatewayEsme(
        cast(Bind, _FakeBind()),
        smsc_host="127.0.0.1",
        smsc_port=1,
        system_id="a",
        password="b",
        correlator=correlator,
        throttle_handler=gate,
    )
    return esme, correlator, gate


def _resp(seq: int, status: int, message_id: bytes) -> tuple[bytes, Any]:
    pdu = struct.pack(">IIII", 17 + len(message_id), 0x80000004, status, seq) + message_id
    pdu += b"\x00"
    header = PduHeader(len(pdu), SmppCommand.SUBMIT_SM_RESP, SmppCommandStatus(status), seq)
    return pdu, header


@pytest.mark.asyncio
async def test_submit_sm_responses_match_aiosmpplib() -> None:
    esme, correlator, gate = _esme()
    reference, ref_correlator, ref_gate = _esme()
    for seq, status, message_id in [
        (1, 0, b"abc123"),
        (2, 0x58, b""),  # ESME_RTHROTTLED
        (3, 0x14, b""),  # ESME_RMSGQFUL
        (4, 0x0B, b"x"),
        (5, 0, b"9" * 64),
    ]:
        for corr in (correlator, ref_correlator):
            ticket = make_ticket()
            ticket.pdu = PlannedSubmitSm.for_ticket(ticket)
            ticket.pdu.extra_data = "extra"
            corr.register(seq, ticket)
        pdu, header = _resp(seq, status, message_id)
        fast = await esme._handle_response(pdu, header)
        slow = await ESME._handle_response(reference, pdu, header)
        assert fast == slow
        assert fast.__dict__ == slow.__dict__
    assert (gate.throttled_responses, gate.other_responses) == (2, 3)
    assert (ref_gate.throttled_responses, ref_gate.other_responses) == (2, 3)


@pytest.mark.asyncio
async def test_responses_it_does_not_take_go_to_aiosmpplib() -> None:
    esme, correlator, _gate = _esme()
    pdu, header = _resp(9, 0, b"unknown-seq")
    assert await esme._handle_response(pdu, header) is not None  # aiosmpplib: uncorrelated
    ticket = make_ticket()
    ticket.pdu = PlannedSubmitSm.for_ticket(ticket)
    correlator.register(10, ticket)
    pdu, header = _resp(10, 0, b"9" * 65)  # too long for aiosmpplib: it logs and drops it
    assert await esme._handle_response(pdu, header) is None
    pdu, header = _resp(10, 0, "é".encode())
    assert await esme._handle_response(pdu, header) is None


class _Link:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize("status", [0, 0x64, 0x58])
def test_deliver_sm_resp_bytes_match_aiosmpplib(status: int) -> None:
    esme, _correlator, _gate = _esme()
    link = _Link()
    esme._writer = link
    assert esme.acknowledge_nowait(link, 77, status)
    assert link.data == [DeliverSmResp(77, SmppCommandStatus(status)).pdu()]
