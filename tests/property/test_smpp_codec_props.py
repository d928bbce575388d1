"""Properties of simulator.smpp.codec: encode/decode identity, and decode is total on any bytes."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.smpp.codec import decode, encode
from simulator.smpp.constants import TLV_FIXED_SIZE, TLV_MAX_SIZE, CommandId, Tag
from simulator.smpp.errors import SmppProtocolError
from simulator.smpp.pdu import (
    PDU_CLASSES,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    DistributionListDestAddress,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    Response,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)
from simulator.smpp.session import Role, Session, SessionConfig
from tests.unit.smpp.helpers import GOLDEN_DIR, load_hex

u8 = st.integers(0, 255)
u32 = st.integers(0, 0xFFFFFFFF)
seqs = u32
statuses = st.one_of(st.just(0), st.integers(1, 0xFFFFFFFF))
_latin1 = st.characters(min_codepoint=1, max_codepoint=255)


def cstr(max_chars: int) -> st.SearchStrategy[str]:
    """Text that fits a C-Octet String of ``max_chars + 1`` octets."""
    return st.text(alphabet=_latin1, max_size=max_chars)


times = st.one_of(st.just(""), st.text(alphabet=_latin1, min_size=16, max_size=16))

_SPECIAL = set(TLV_FIXED_SIZE) | set(TLV_MAX_SIZE) | {Tag.MESSAGE_PAYLOAD}
_unknown_tlv = st.tuples(
    st.integers(0, 0xFFFF).filter(lambda tag: tag not in _SPECIAL), st.binary(max_size=40)
)
_fixed_tlv = st.sampled_from(sorted(TLV_FIXED_SIZE.items())).flatmap(
    lambda item: st.tuples(st.just(item[0]), st.binary(min_size=item[1], max_size=item[1]))
)
_variable_tlv = st.sampled_from(sorted(TLV_MAX_SIZE.items())).flatmap(
    lambda item: st.tuples(st.just(item[0]), st.binary(max_size=item[1]))
)
tlvs: st.SearchStrategy[tuple[Tlv, ...]] = st.lists(
    st.one_of(_unknown_tlv, _fixed_tlv, _variable_tlv), max_size=4
).map(tuple)


@st.composite
def user_data(draw: st.DrawFn) -> tuple[int, int, bytes, tuple[Tlv, ...]]:
    """(esm_class, data_coding, short_message, tlvs) that satisfy rows 14 and 15."""
    esm_class = draw(u8)
    data_coding = draw(u8)
    extra = list(draw(tlvs))
    data = draw(st.binary(max_size=254))
    if data_coding == 8:
        esm_class &= ~0x40
        data = data[: len(data) & ~1]
    if draw(st.booleans()):
        extra.insert(draw(st.integers(0, len(extra))), (Tag.MESSAGE_PAYLOAD, data))
        return esm_class, data_coding, b"", tuple(extra)
    return esm_class, data_coding, data, tuple(extra)


@st.composite
def short_message_requests(draw: st.DrawFn, cls: type[SubmitSm] | type[DeliverSm]) -> Pdu:
    esm_class, data_coding, short_message, extra = draw(user_data())
    return cls(
        sequence_number=draw(seqs),
        service_type=draw(cstr(5)),
        source_addr_ton=draw(u8),
        source_addr_npi=draw(u8),
        source_addr=draw(cstr(20)),
        dest_addr_ton=draw(u8),
        dest_addr_npi=draw(u8),
        destination_addr=draw(cstr(20)),
        esm_class=esm_class,
        protocol_id=draw(u8),
        priority_flag=draw(u8),
        schedule_delivery_time=draw(times),
        validity_period=draw(times),
        registered_delivery=draw(u8),
        replace_if_present_flag=draw(u8),
        data_coding=data_coding,
        sm_default_msg_id=draw(u8),
        short_message=short_message,
        tlvs=extra,
    )


@st.composite
def submit_multis(draw: st.DrawFn) -> Pdu:
    esm_class, data_coding, short_message, extra = draw(user_data())
    dests: list[DestAddress] = draw(
        st.lists(
            st.one_of(
                st.builds(SmeDestAddress, u8, u8, cstr(20)),
                st.builds(DistributionListDestAddress, cstr(20)),
            ),
            max_size=8,
        )
    )
    return SubmitMulti(
        sequence_number=draw(seqs),
        service_type=draw(cstr(5)),
        source_addr_ton=draw(u8),
        source_addr_npi=draw(u8),
        source_addr=draw(cstr(20)),
        dest_addresses=tuple(dests),
        esm_class=esm_class,
        protocol_id=draw(u8),
        priority_flag=draw(u8),
        schedule_delivery_time=draw(times),
        validity_period=draw(times),
        registered_delivery=draw(u8),
        replace_if_present_flag=draw(u8),
        data_coding=data_coding,
        sm_default_msg_id=draw(u8),
        short_message=short_message,
        tlvs=extra,
    )


@st.composite
def data_sms(draw: st.DrawFn) -> Pdu:
    esm_class, data_coding, short_message, extra = draw(user_data())
    if short_message:
        extra = ((Tag.MESSAGE_PAYLOAD, short_message), *extra)
    return DataSm(
        sequence_number=draw(seqs),
        service_type=draw(cstr(5)),
        source_addr_ton=draw(u8),
        source_addr_npi=draw(u8),
        source_addr=draw(cstr(64)),
        dest_addr_ton=draw(u8),
        dest_addr_npi=draw(u8),
        destination_addr=draw(cstr(64)),
        esm_class=esm_class,
        registered_delivery=draw(u8),
        data_coding=data_coding,
        tlvs=extra,
    )


@st.composite
def replace_sms(draw: st.DrawFn) -> Pdu:
    short_message = draw(st.binary(max_size=254))
    extra = draw(tlvs)
    return ReplaceSm(
        sequence_number=draw(seqs),
        message_id=draw(cstr(64)),
        source_addr_ton=draw(u8),
        source_addr_npi=draw(u8),
        source_addr=draw(cstr(20)),
        schedule_delivery_time=draw(times),
        validity_period=draw(times),
        registered_delivery=draw(u8),
        sm_default_msg_id=draw(u8),
        short_message=short_message,
        tlvs=extra,
    )


def _bind_requests(
    cls: type[BindTransmitter] | type[BindReceiver] | type[BindTransceiver],
) -> st.SearchStrategy[Pdu]:
    return st.builds(
        cls,
        sequence_number=seqs,
        system_id=cstr(15),
        password=cstr(8),
        system_type=cstr(12),
        interface_version=u8,
        addr_ton=u8,
        addr_npi=u8,
        address_range=cstr(40),
        tlvs=tlvs,
    )


def _bind_responses(
    cls: type[BindTransmitterResp] | type[BindReceiverResp] | type[BindTransceiverResp],
) -> st.SearchStrategy[Pdu]:
    return st.builds(
        cls, sequence_number=seqs, command_status=statuses, system_id=cstr(15), tlvs=tlvs
    )


def _header_only(cls: Callable[..., Pdu], response: bool) -> st.SearchStrategy[Pdu]:
    if response:
        return st.builds(cls, sequence_number=seqs, command_status=statuses)
    return st.builds(cls, sequence_number=seqs)


STRATEGIES: dict[int, st.SearchStrategy[Pdu]] = {
    CommandId.GENERIC_NACK: _header_only(GenericNack, True),
    CommandId.BIND_TRANSMITTER: _bind_requests(BindTransmitter),
    CommandId.BIND_RECEIVER: _bind_requests(BindReceiver),
    CommandId.BIND_TRANSCEIVER: _bind_requests(BindTransceiver),
    CommandId.BIND_TRANSMITTER_RESP: _bind_responses(BindTransmitterResp),
    CommandId.BIND_RECEIVER_RESP: _bind_responses(BindReceiverResp),
    CommandId.BIND_TRANSCEIVER_RESP: _bind_responses(BindTransceiverResp),
    CommandId.OUTBIND: st.builds(
        Outbind, sequence_number=seqs, system_id=cstr(15), password=cstr(8), tlvs=tlvs
    ),
    CommandId.UNBIND: _header_only(Unbind, False),
    CommandId.UNBIND_RESP: _header_only(UnbindResp, True),
    CommandId.ENQUIRE_LINK: _header_only(EnquireLink, False),
    CommandId.ENQUIRE_LINK_RESP: _header_only(EnquireLinkResp, True),
    CommandId.SUBMIT_SM: short_message_requests(SubmitSm),
    CommandId.DELIVER_SM: short_message_requests(DeliverSm),
    CommandId.SUBMIT_SM_RESP: st.builds(
        SubmitSmResp, sequence_number=seqs, command_status=statuses, message_id=cstr(64), tlvs=tlvs
    ),
    CommandId.DELIVER_SM_RESP: st.builds(
        DeliverSmResp,
        sequence_number=seqs,
        command_status=statuses,
        message_id=cstr(64),
        tlvs=tlvs,
    ),
    CommandId.SUBMIT_MULTI: submit_multis(),
    CommandId.SUBMIT_MULTI_RESP: st.builds(
        SubmitMultiResp,
        sequence_number=seqs,
        command_status=statuses,
        message_id=cstr(64),
        unsuccess_smes=st.lists(st.builds(UnsuccessSme, u8, u8, cstr(20), u32), max_size=5).map(
            tuple
        ),
        tlvs=tlvs,
    ),
    CommandId.DATA_SM: data_sms(),
    CommandId.DATA_SM_RESP: st.builds(
        DataSmResp, sequence_number=seqs, command_status=statuses, message_id=cstr(64), tlvs=tlvs
    ),
    CommandId.QUERY_SM: st.builds(
        QuerySm,
        sequence_number=seqs,
        message_id=cstr(64),
        source_addr_ton=u8,
        source_addr_npi=u8,
        source_addr=cstr(20),
        tlvs=tlvs,
    ),
    CommandId.QUERY_SM_RESP: st.builds(
        QuerySmResp,
        sequence_number=seqs,
        command_status=statuses,
        message_id=cstr(64),
        final_date=times,
        message_state=u8,
        error_code=u8,
        tlvs=tlvs,
    ),
    CommandId.CANCEL_SM: st.builds(
        CancelSm,
        sequence_number=seqs,
        service_type=cstr(5),
        message_id=cstr(64),
        source_addr_ton=u8,
        source_addr_npi=u8,
        source_addr=cstr(20),
        dest_addr_ton=u8,
        dest_addr_npi=u8,
        destination_addr=cstr(20),
        tlvs=tlvs,
    ),
    CommandId.CANCEL_SM_RESP: _header_only(CancelSmResp, True),
    CommandId.REPLACE_SM: replace_sms(),
    CommandId.REPLACE_SM_RESP: _header_only(ReplaceSmResp, True),
    CommandId.ALERT_NOTIFICATION: st.builds(
        AlertNotification,
        sequence_number=seqs,
        source_addr_ton=u8,
        source_addr_npi=u8,
        source_addr=cstr(64),
        esme_addr_ton=u8,
        esme_addr_npi=u8,
        esme_addr=cstr(64),
        tlvs=tlvs,
    ),
}

any_pdu = st.one_of(*STRATEGIES.values())


def test_a_strategy_for_every_pdu_type() -> None:
    assert set(STRATEGIES) == set(PDU_CLASSES)


def _expected_after_round_trip(pdu: Pdu) -> Pdu:
    """An error response travels as a bare header (SMPP-ERRORS row 28)."""
    if isinstance(pdu, Response) and pdu.command_status:
        return type(pdu)(sequence_number=pdu.sequence_number, command_status=pdu.command_status)
    return pdu


@given(pdu=any_pdu)
def test_encode_then_decode_is_identity(pdu: Pdu) -> None:
    data = encode(pdu)
    assert struct.unpack_from(">I", data)[0] == len(data)
    assert decode(data) == _expected_after_round_trip(pdu)


@pytest.mark.parametrize("command_id", sorted(STRATEGIES), ids=lambda c: CommandId(c).name)
@given(data=st.data())
def test_round_trip_per_pdu_type(command_id: int, data: st.DataObject) -> None:
    pdu = data.draw(STRATEGIES[command_id])
    assert decode(encode(pdu)) == _expected_after_round_trip(pdu)


@given(data=st.binary(max_size=400))
def test_decode_of_arbitrary_bytes_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(SmppProtocolError):
        decode(data)


@given(
    command_id=st.sampled_from(sorted(PDU_CLASSES)) | st.integers(0, 0xFFFFFFFF),
    status=st.sampled_from([0, 0, 0, 1]),
    body=st.binary(max_size=300),
)
def test_decode_of_arbitrary_bodies_raises_only_protocol_errors(
    command_id: int, status: int, body: bytes
) -> None:
    data = struct.pack(">IIII", 16 + len(body), command_id, status, 1) + body
    with contextlib.suppress(SmppProtocolError):
        decode(data)


GOLDEN_FRAMES = [load_hex(path.name) for path in sorted(GOLDEN_DIR.glob("*.hex"))]


@st.composite
def mutated_golden(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(GOLDEN_FRAMES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "replace"]))
        position = draw(st.integers(16, max(16, len(data))))
        if kind == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[position : position + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif position < len(data):
            data[position] = draw(u8)
    if draw(st.booleans()):
        data[0:4] = struct.pack(">I", len(data))  # keep the framing honest, fuzz the body
    return bytes(data)


@given(data=mutated_golden())
def test_decode_of_mutated_golden_pdus_raises_only_protocol_errors(data: bytes) -> None:
    try:
        pdu = decode(data)
    except SmppProtocolError:
        return
    # Whatever decodes must re-encode (possibly normalised) and decode to the same PDU.
    assert decode(encode(pdu)) == pdu


@given(
    role=st.sampled_from(Role),
    chunks=st.lists(
        st.one_of(st.binary(max_size=64), mutated_golden(), st.sampled_from(GOLDEN_FRAMES)),
        max_size=8,
    ),
)
def test_session_survives_any_input(role: Role, chunks: list[bytes]) -> None:
    session = Session(role, 0.0, SessionConfig())
    for i, chunk in enumerate(chunks):
        session.receive_data(chunk, float(i))
        session.data_to_send()
        list(session.events())
        session.handle_timer(float(i) + 0.5)
    if session.closed:
        assert session.get_timer() is None
        assert session.next_event() is None
