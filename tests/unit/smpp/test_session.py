"""simulator.smpp.session: an ESME-role and an SMSC-role session pumped through a fake wire."""

from __future__ import annotations

import struct

import pytest

from simulator.smpp.codec import decode
from simulator.smpp.constants import SEQUENCE_NUMBER_MAX, CommandId, CommandStatus
from simulator.smpp.errors import (
    FramingError,
    InvalidStateError,
    LocalProtocolError,
    PduDecodeError,
    PduEncodeError,
    UnexpectedPduError,
    UnknownCommandError,
)
from simulator.smpp.events import (
    AutoReplied,
    CloseReason,
    PduReceived,
    ProtocolViolation,
    RequestTimedOut,
    SessionClosed,
)
from simulator.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindRequest,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from simulator.smpp.session import (
    REQUEST_TRANSITIONS,
    Role,
    Session,
    SessionConfig,
    SessionState,
)
from tests.unit.smpp.helpers import BOUND_STATE_OF, SessionPair, is_closed, raw, state_of

ESME, SMSC = Role.ESME, Role.SMSC
S = CommandStatus


def submit(text: bytes = b"hello") -> SubmitSm:
    return SubmitSm(source_addr="ACME", destination_addr="819012345678", short_message=text)


def header(command_id: int, status: int, seq: int) -> bytes:
    return struct.pack(">IIII", 16, command_id, status, seq)


# --------------------------------------------------------------------------------------------
# Bind, traffic, unbind
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bind_class", [BindTransmitter, BindReceiver, BindTransceiver])
def test_bind_each_mode(bind_class: type[BindRequest]) -> None:
    pair = SessionPair()
    assert state_of(pair.esme) is state_of(pair.smsc) is SessionState.OPEN
    request = bind_class(system_id="esme", password="pw")
    events = pair.send(ESME, request)
    assert request.sequence_number == 1
    assert state_of(pair.esme) is state_of(pair.smsc) is SessionState.BINDING
    assert events[SMSC] == [PduReceived(request)]
    response_class = bind_class.response_class
    assert response_class is not None
    events = pair.send(SMSC, response_class(sequence_number=1))
    assert events[ESME] == [PduReceived(response_class(sequence_number=1))]
    assert state_of(pair.esme) is state_of(pair.smsc) is BOUND_STATE_OF[bind_class]


def test_submit_and_response() -> None:
    pair = SessionPair()
    pair.bind()
    request = submit()
    events = pair.send(ESME, request)
    assert request.sequence_number == 2
    assert events[SMSC] == [PduReceived(request)]
    assert pair.esme.outstanding_count == 1
    assert pair.smsc.inbound_pending_count == 1
    response = SubmitSmResp(sequence_number=2, message_id="abc")
    events = pair.send(SMSC, response)
    assert events[ESME] == [PduReceived(response)]
    assert pair.esme.outstanding_count == 0
    assert pair.smsc.inbound_pending_count == 0


def test_deliver_sm_and_data_sm_from_smsc() -> None:
    pair = SessionPair()
    pair.bind()
    receipt = DeliverSm(source_addr="819012345678", destination_addr="ACME", esm_class=4)
    events = pair.send(SMSC, receipt)
    assert receipt.sequence_number == 1  # the SMSC numbers its own requests
    assert events[ESME] == [PduReceived(receipt)]
    events = pair.send(ESME, DeliverSmResp(sequence_number=1))
    assert events[SMSC] == [PduReceived(DeliverSmResp(sequence_number=1))]
    events = pair.send(SMSC, DataSm(source_addr="8190"))
    assert isinstance(events[ESME][0], PduReceived)
    events = pair.send(ESME, DataSmResp(sequence_number=2, message_id="x"))
    assert events[SMSC] == [PduReceived(DataSmResp(sequence_number=2, message_id="x"))]


def test_pipelined_requests_in_one_read_are_answered_in_order() -> None:
    pair = SessionPair()
    pair.bind()
    requests = [submit(str(i).encode()) for i in range(50)]
    data = b"".join(pair.esme.send(r, pair.now) for r in requests)
    events = pair.inject(ESME, data)
    assert events[SMSC] == [PduReceived(r) for r in requests]
    for r in requests:
        pair.send(SMSC, SubmitSmResp(sequence_number=r.sequence_number, message_id="m"))
    assert pair.esme.outstanding_count == 0


def test_unbind_from_esme() -> None:
    pair = SessionPair()
    pair.bind()
    events = pair.send(ESME, Unbind())
    assert events[SMSC] == [
        AutoReplied(Unbind(sequence_number=2), UnbindResp(sequence_number=2)),
        SessionClosed(CloseReason.UNBOUND),
    ]
    assert events[ESME] == [
        PduReceived(UnbindResp(sequence_number=2)),
        SessionClosed(CloseReason.UNBOUND),
    ]
    assert is_closed(pair.esme)
    assert is_closed(pair.smsc)


def test_unbind_from_smsc() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(SMSC, Unbind())
    assert is_closed(pair.esme)
    assert is_closed(pair.smsc)


def test_unbind_waits_for_inflight_requests() -> None:
    # SMPP-ERRORS row 26: finish in-flight inbound, then unbind_resp, then close.
    pair = SessionPair()
    pair.bind()
    pair.send(ESME, submit())
    pair.send(ESME, submit())
    events = pair.send(ESME, Unbind())
    assert events[SMSC] == []
    assert state_of(pair.smsc) is SessionState.UNBOUND
    assert not pair.smsc.can_send(CommandId.DELIVER_SM)
    events = pair.send(SMSC, SubmitSmResp(sequence_number=2, message_id="a"))
    assert not is_closed(pair.smsc)
    events = pair.send(SMSC, SubmitSmResp(sequence_number=3, message_id="b"))
    assert is_closed(pair.smsc)
    assert events[ESME] == [
        PduReceived(SubmitSmResp(sequence_number=3, message_id="b")),
        PduReceived(UnbindResp(sequence_number=4)),
        SessionClosed(CloseReason.UNBOUND),
    ]


def test_unbind_deferral_has_a_deadline() -> None:
    pair = SessionPair(config=SessionConfig(response_timeout=5.0, enquire_link_interval=None))
    pair.bind()
    pair.send(ESME, submit())
    pair.send(ESME, Unbind())
    assert pair.smsc.get_timer() == pytest.approx(pair.now + 5.0)
    events = pair.advance(5.0)
    assert is_closed(pair.smsc)
    assert SessionClosed(CloseReason.UNBOUND) in events[SMSC]


def test_peer_unbind_lists_our_unanswered_requests() -> None:
    pair = SessionPair()
    pair.bind()
    receipt = DeliverSm(source_addr="1", destination_addr="2")
    pair.send(SMSC, receipt)  # the ESME will not answer it
    events = pair.send(ESME, Unbind())
    closed = events[SMSC][-1]
    assert closed == SessionClosed(CloseReason.UNBOUND, (receipt,))


def test_outbind_then_bind_receiver() -> None:
    pair = SessionPair()
    events = pair.send(SMSC, Outbind(system_id="SIMSMSC", password="pw"))
    assert events[ESME] == [PduReceived(Outbind(1, "SIMSMSC", "pw"))]
    pair.bind(BindReceiver(system_id="esme"))
    assert state_of(pair.esme) is SessionState.BOUND_RX
    events = pair.send(SMSC, AlertNotification(source_addr="8190", esme_addr="ACME"))
    assert isinstance(events[ESME][0], PduReceived)
    assert pair.smsc.outstanding_count == 0  # alert_notification has no response


# --------------------------------------------------------------------------------------------
# Bind failures and state checks
# --------------------------------------------------------------------------------------------


def test_bind_refused_closes_both_sides() -> None:
    pair = SessionPair()
    pair.send(ESME, BindTransceiver(system_id="esme", password="bad"))
    refusal = BindTransceiverResp(sequence_number=1, command_status=S.ESME_RINVPASWD)
    data = pair.smsc.send(refusal, pair.now)
    assert data == header(CommandId.BIND_TRANSCEIVER_RESP, S.ESME_RINVPASWD, 1)
    assert is_closed(pair.smsc)
    pair.inject(SMSC, data)
    assert is_closed(pair.esme)
    assert pair.esme.data_to_send() == b""


def test_bind_with_too_long_system_id_is_refused_and_closed() -> None:
    # SMPP-ERRORS row 9: system_id >= 16 characters -> 0x0F, close.
    pair = SessionPair()
    body = b"s" * 16 + b"\x00pw\x00\x00\x34\x00\x00\x00"
    data = struct.pack(">IIII", 16 + len(body), CommandId.BIND_TRANSCEIVER, 0, 1) + body
    pair.smsc.receive_data(data, pair.now)
    assert pair.smsc.data_to_send() == header(CommandId.BIND_TRANSCEIVER_RESP, S.ESME_RINVSYSID, 1)
    violation, closed = list(pair.smsc.events())
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, PduDecodeError)
    assert violation.reply == BindTransceiverResp(1, S.ESME_RINVSYSID)
    assert closed == SessionClosed(CloseReason.BIND_FAILED)


def test_generic_nack_to_bind_closes() -> None:
    pair = SessionPair()
    pair.send(ESME, BindTransmitter(system_id="esme"))
    events = pair.send(SMSC, GenericNack(sequence_number=1, command_status=S.ESME_RSYSERR))
    assert events[ESME] == [
        PduReceived(GenericNack(1, S.ESME_RSYSERR)),
        SessionClosed(CloseReason.BIND_FAILED),
    ]


@pytest.mark.parametrize("via_session", [True, False])
def test_generic_nack_with_status_zero_never_binds(via_session: bool) -> None:
    pair = SessionPair()
    pair.send(ESME, BindTransceiver(system_id="esme"))
    if via_session:  # the SMSC application nacks the bind through its session
        pair.send(SMSC, GenericNack(sequence_number=1, command_status=0))
        assert is_closed(pair.smsc)
    else:  # a peer writes the nack by hand
        pair.inject(SMSC, header(CommandId.GENERIC_NACK, 0, 1))
    assert is_closed(pair.esme)


def test_submit_before_bind_gets_rinvbndsts() -> None:
    # SMPP-ERRORS row 6.
    pair = SessionPair()
    events = pair.inject(ESME, raw(SubmitSm(sequence_number=7)))
    [violation] = events[SMSC]
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, UnexpectedPduError)
    assert violation.reply == SubmitSmResp(7, S.ESME_RINVBNDSTS)
    # The ESME side never sent seq 7: it drops the answer (row 22) without a reply.
    [dropped] = events[ESME]
    assert isinstance(dropped, ProtocolViolation)
    assert dropped.reply is None
    assert pair.sent_by(SMSC) == header(CommandId.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, 7)
    assert state_of(pair.smsc) is SessionState.OPEN


def test_submit_on_receiver_bind_gets_rinvbndsts() -> None:
    pair = SessionPair()
    pair.bind(BindReceiver(system_id="esme"))
    with pytest.raises(InvalidStateError) as info:
        pair.esme.send(submit(), pair.now)
    assert info.value.command_status_hint == S.ESME_RINVBNDSTS
    pair.inject(ESME, raw(SubmitSm(sequence_number=9)))
    assert pair.sent_by(SMSC).endswith(header(CommandId.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, 9))
    assert state_of(pair.smsc) is SessionState.BOUND_RX


def test_deliver_sm_to_transmitter_is_refused_locally() -> None:
    pair = SessionPair()
    pair.bind(BindTransmitter(system_id="esme"))
    assert not pair.smsc.can_send(CommandId.DELIVER_SM)
    with pytest.raises(InvalidStateError):
        pair.smsc.send(DeliverSm(), pair.now)


@pytest.mark.parametrize("bind_class", [BindTransmitter, BindReceiver, BindTransceiver])
def test_second_bind_gets_ralybnd_and_stays_bound(bind_class: type[BindRequest]) -> None:
    # SMPP-ERRORS row 7.
    pair = SessionPair()
    pair.bind()
    pair.inject(ESME, raw(bind_class(sequence_number=50, system_id="again")))
    resp_id = bind_class.command_id | 0x80000000
    assert pair.sent_by(SMSC).endswith(header(resp_id, S.ESME_RALYBND, 50))
    assert state_of(pair.smsc) is SessionState.BOUND_TRX
    with pytest.raises(InvalidStateError) as info:
        pair.esme.send(bind_class(system_id="again"), pair.now)
    assert info.value.command_status_hint == S.ESME_RALYBND


def test_bind_while_binding_gets_ralybnd() -> None:
    pair = SessionPair()
    pair.send(ESME, BindTransceiver(system_id="esme"))
    pair.inject(ESME, raw(BindTransmitter(sequence_number=2)))
    assert pair.sent_by(SMSC) == header(CommandId.BIND_TRANSMITTER_RESP, S.ESME_RALYBND, 2)
    assert state_of(pair.smsc) is SessionState.BINDING
    pair.send(SMSC, BindTransceiverResp(sequence_number=1))
    assert state_of(pair.esme) is state_of(pair.smsc) is SessionState.BOUND_TRX


def test_enquire_link_answered_in_open_state() -> None:
    # SMPP-ERRORS row 23.
    pair = SessionPair()
    events = pair.send(ESME, EnquireLink())
    assert events[SMSC] == [AutoReplied(EnquireLink(1), EnquireLinkResp(1))]
    assert events[ESME] == [PduReceived(EnquireLinkResp(1))]
    assert state_of(pair.smsc) is SessionState.OPEN


def test_unknown_command_gets_generic_nack_and_session_survives() -> None:
    # SMPP-ERRORS row 4.
    pair = SessionPair()
    pair.bind()
    events = pair.inject(ESME, header(0x00000099, 0, 77))
    [violation] = events[SMSC]
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, UnknownCommandError)
    assert violation.reply == GenericNack(77, S.ESME_RINVCMDID)
    assert pair.sent_by(SMSC).endswith(header(CommandId.GENERIC_NACK, S.ESME_RINVCMDID, 77))
    assert state_of(pair.smsc) is SessionState.BOUND_TRX
    pair.send(ESME, submit())  # still usable


def test_bad_field_answered_with_its_status() -> None:
    pair = SessionPair()
    pair.bind()
    body = b"\x00\x05\x00" + b"A" * 21 + b"\x00"
    data = struct.pack(">IIII", 16 + len(body), CommandId.SUBMIT_SM, 0, 31) + body
    events = pair.inject(ESME, data)
    [violation] = events[SMSC]
    assert isinstance(violation, ProtocolViolation)
    assert violation.reply == SubmitSmResp(31, S.ESME_RINVSRCADR)
    assert not is_closed(pair.smsc)


@pytest.mark.parametrize("length", [0, 8, 15, 7425, 0x80000010])
def test_bad_command_length_nacks_and_closes(length: int) -> None:
    # SMPP-ERRORS rows 1 and 2: generic_nack 0x02 with seq 0, then close.
    pair = SessionPair()
    pair.bind()
    events = pair.inject(ESME, struct.pack(">IIII", length, CommandId.SUBMIT_SM, 0, 5))
    assert pair.sent_by(SMSC).endswith(header(CommandId.GENERIC_NACK, S.ESME_RINVCMDLEN, 0))
    violation, closed = events[SMSC]
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, FramingError)
    assert closed == SessionClosed(CloseReason.FRAMING_ERROR)
    assert pair.smsc.get_timer() is None
    pair.smsc.receive_data(raw(EnquireLink(sequence_number=3)), pair.now)  # ignored when CLOSED
    assert pair.smsc.data_to_send() == b""


def test_response_matching_nothing_is_dropped() -> None:
    # SMPP-ERRORS row 22: never nack a response.
    pair = SessionPair()
    pair.bind()
    before = pair.sent_by(ESME)
    events = pair.inject(SMSC, raw(SubmitSmResp(sequence_number=999, message_id="x")))
    [violation] = events[ESME]
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, UnexpectedPduError)
    assert violation.reply is None
    assert pair.sent_by(ESME) == before


def test_response_of_the_wrong_type_is_dropped_and_request_kept() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(ESME, submit())
    events = pair.inject(SMSC, raw(DeliverSmResp(sequence_number=2)))
    assert isinstance(events[ESME][0], ProtocolViolation)
    assert pair.esme.outstanding_count == 1


def test_generic_nack_completes_a_request() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(ESME, submit())
    events = pair.send(SMSC, GenericNack(sequence_number=2, command_status=S.ESME_RINVCMDLEN))
    assert events[ESME] == [PduReceived(GenericNack(2, S.ESME_RINVCMDLEN))]
    assert pair.esme.outstanding_count == 0


def test_malformed_response_finishes_the_request() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(ESME, submit())
    bad = struct.pack(">IIII", 20, CommandId.SUBMIT_SM_RESP, 0, 2) + b"abcd"  # no NUL
    events = pair.inject(SMSC, bad)
    [violation] = events[ESME]
    assert isinstance(violation, ProtocolViolation)
    assert violation.error.sequence_number == 2
    assert violation.reply is None
    assert pair.esme.outstanding_count == 0


def test_error_response_with_unknown_status_is_delivered() -> None:
    # SMPP-ERRORS row 21: an unknown status is a failure of that request, not a link fault.
    pair = SessionPair()
    pair.bind()
    pair.send(ESME, submit())
    events = pair.inject(SMSC, header(CommandId.SUBMIT_SM_RESP, 0x22, 2))
    assert events[ESME] == [PduReceived(SubmitSmResp(2, 0x22))]


# --------------------------------------------------------------------------------------------
# Local misuse
# --------------------------------------------------------------------------------------------


def test_response_to_nothing_raises() -> None:
    pair = SessionPair()
    pair.bind()
    with pytest.raises(InvalidStateError):
        pair.smsc.send(SubmitSmResp(sequence_number=5), pair.now)
    pair.send(ESME, submit())
    with pytest.raises(InvalidStateError):
        pair.smsc.send(DeliverSmResp(sequence_number=2), pair.now)  # wrong type


def test_explicit_sequence_numbers() -> None:
    pair = SessionPair()
    pair.bind()
    request = submit()
    request.sequence_number = 500
    pair.send(ESME, request)
    assert request.sequence_number == 500
    clash = submit()
    clash.sequence_number = 500
    with pytest.raises(LocalProtocolError):
        pair.esme.send(clash, pair.now)
    too_big = submit()
    too_big.sequence_number = SEQUENCE_NUMBER_MAX + 1
    with pytest.raises(LocalProtocolError):
        pair.esme.send(too_big, pair.now)


def test_encode_error_leaves_session_untouched() -> None:
    pair = SessionPair()
    pair.bind()
    bad = SubmitSm(source_addr="x" * 30)
    with pytest.raises(PduEncodeError):
        pair.esme.send(bad, pair.now)
    assert bad.sequence_number == 0
    assert pair.esme.outstanding_count == 0
    good = submit()
    pair.send(ESME, good)
    assert good.sequence_number == 3  # numbers are cheap; one was consumed


def test_send_after_close_raises_and_lists_unanswered() -> None:
    pair = SessionPair()
    pair.bind()
    request = submit()
    pair.send(ESME, request)
    pair.esme.connection_lost(pair.now)
    assert list(pair.esme.events()) == [SessionClosed(CloseReason.CONNECTION_LOST, (request,))]
    with pytest.raises(InvalidStateError):
        pair.esme.send(submit(), pair.now)
    pair.esme.close(pair.now)  # idempotent
    assert pair.esme.next_event() is None


def test_local_close() -> None:
    session = Session(Role.SMSC, 0.0)
    session.close(1.0)
    assert session.next_event() == SessionClosed(CloseReason.LOCAL_CLOSE)
    assert is_closed(session)


# --------------------------------------------------------------------------------------------
# Sequence numbers
# --------------------------------------------------------------------------------------------


def test_sequence_numbers_wrap_to_one() -> None:
    # SMPP 3.4 §5.1.4 / SMPP-ERRORS row 27: 1..0x7FFFFFFF, then 1 again.
    pair = SessionPair(esme_first_seq=SEQUENCE_NUMBER_MAX - 1)
    pair.bind()
    assert pair.esme.outstanding_count == 0
    first, second, third = submit(), submit(), submit()
    pair.send(ESME, first)
    pair.send(ESME, second)
    pair.send(ESME, third)
    assert [first.sequence_number, second.sequence_number, third.sequence_number] == [
        SEQUENCE_NUMBER_MAX,
        1,
        2,
    ]
    events = pair.send(SMSC, SubmitSmResp(sequence_number=SEQUENCE_NUMBER_MAX, message_id="m"))
    assert events[ESME] == [PduReceived(SubmitSmResp(SEQUENCE_NUMBER_MAX, 0, "m"))]


def test_wrap_skips_numbers_still_outstanding() -> None:
    session = Session(Role.ESME, 0.0, first_sequence_number=SEQUENCE_NUMBER_MAX)
    first = BindTransceiver()
    session.send(first, 0.0)
    assert first.sequence_number == SEQUENCE_NUMBER_MAX
    session.receive_data(raw(BindTransceiverResp(sequence_number=SEQUENCE_NUMBER_MAX)), 0.0)
    held = submit()
    held.sequence_number = 1
    session.send(held, 0.0)
    nxt = submit()
    session.send(nxt, 0.0)
    assert nxt.sequence_number == 2


# --------------------------------------------------------------------------------------------
# Timers (manual clock)
# --------------------------------------------------------------------------------------------


def test_session_init_timer() -> None:
    # SMPP-ERRORS row 25.
    session = Session(Role.SMSC, 100.0, SessionConfig(session_init_timeout=5.0))
    assert session.get_timer() == 105.0
    session.handle_timer(104.9)
    assert session.next_event() is None
    session.handle_timer(105.0)
    assert session.next_event() == SessionClosed(CloseReason.SESSION_INIT_TIMEOUT)


def test_session_init_timer_stops_once_bound() -> None:
    pair = SessionPair(config=SessionConfig(session_init_timeout=5.0, enquire_link_interval=None))
    pair.bind()
    events = pair.advance(6.0)
    assert events == {ESME: [], SMSC: []}


def test_pdu_read_timer() -> None:
    # SMPP-ERRORS row 3: a stalled partial PDU -> generic_nack 0x02, close.
    pair = SessionPair(config=SessionConfig(pdu_read_timeout=10.0))
    pair.bind()
    data = raw(SubmitSm(sequence_number=44, source_addr="A"))
    pair.inject(ESME, data[:20])
    assert pair.smsc.get_timer() == pytest.approx(pair.now + 10.0)
    pair.now += 5.0
    pair.inject(ESME, data[20:22])  # trickling octets do not restart the timer
    events = pair.advance(5.0)
    assert pair.sent_by(SMSC).endswith(header(CommandId.GENERIC_NACK, S.ESME_RINVCMDLEN, 44))
    assert events[SMSC][-1] == SessionClosed(CloseReason.PDU_READ_TIMEOUT)


def test_pdu_read_timer_restarts_per_frame() -> None:
    config = SessionConfig(pdu_read_timeout=10.0, session_init_timeout=None)
    session = Session(Role.SMSC, 0.0, config)
    one = raw(EnquireLink(sequence_number=1))
    two = raw(EnquireLink(sequence_number=2))
    session.receive_data(one[:8], 0.0)
    assert session.get_timer() == 10.0
    session.receive_data(one[8:] + two[:3], 8.0)  # frame 1 done, frame 2 started at 8.0
    assert session.get_timer() == 18.0
    session.handle_timer(17.9)
    assert not is_closed(session)
    session.receive_data(two[3:], 9.0)
    assert session.get_timer() is None
    session.handle_timer(18.0)
    assert not is_closed(session)
    assert [type(e) for e in session.events()] == [AutoReplied, AutoReplied]


def test_request_timeout() -> None:
    pair = SessionPair(config=SessionConfig(response_timeout=60.0, enquire_link_interval=None))
    pair.bind()
    request = submit()
    pair.connected = False
    pair.send(ESME, request)
    assert pair.esme.get_timer() == pytest.approx(pair.now + 60.0)
    events = pair.advance(60.0)
    assert events[ESME] == [RequestTimedOut(2, CommandId.SUBMIT_SM, request)]
    assert state_of(pair.esme) is SessionState.BOUND_TRX
    assert pair.esme.outstanding_count == 0


def test_enquire_link_keepalive_when_idle() -> None:
    pair = SessionPair(config=SessionConfig(enquire_link_interval=30.0))
    pair.bind()
    events = pair.advance(30.0)
    auto = [e for e in events[SMSC] + events[ESME] if isinstance(e, AutoReplied)]
    assert {type(e.request) for e in auto} == {EnquireLink}
    assert not [e for e in events[ESME] + events[SMSC] if isinstance(e, PduReceived)]
    assert not is_closed(pair.esme)


def test_enquire_link_unanswered_closes() -> None:
    # SMPP-ERRORS row 24.
    pair = SessionPair(config=SessionConfig(enquire_link_interval=30.0, response_timeout=10.0))
    pair.bind()
    pair.connected = False
    pair.advance(30.0)
    assert decode(pair.wire[-1][1][:16]).command_id is CommandId.ENQUIRE_LINK
    events = pair.advance(10.0)
    assert events[ESME] == [SessionClosed(CloseReason.ENQUIRE_LINK_TIMEOUT)]


def test_inactivity_unbinds() -> None:
    config = SessionConfig(inactivity_timeout=100.0, enquire_link_interval=30.0)
    pair = SessionPair(esme_config=config, smsc_config=SessionConfig(inactivity_timeout=None))
    pair.bind()
    closed: list[object] = []
    for _ in range(4):
        events = pair.advance(30.0)  # keep-alives flow, but they are not activity
        closed += [e for e in events[ESME] if isinstance(e, SessionClosed)]
    assert closed == [SessionClosed(CloseReason.INACTIVITY_TIMEOUT)]
    assert is_closed(pair.smsc)


def test_get_timer_is_none_when_everything_disabled() -> None:
    config = SessionConfig(
        session_init_timeout=None,
        enquire_link_interval=None,
        inactivity_timeout=None,
        response_timeout=None,
        pdu_read_timeout=None,
    )
    pair = SessionPair(config=config)
    pair.bind()
    pair.send(ESME, submit())
    assert pair.esme.get_timer() is None
    assert pair.smsc.get_timer() is None


def test_unbind_timeout_closes() -> None:
    pair = SessionPair(config=SessionConfig(response_timeout=10.0, enquire_link_interval=None))
    pair.bind()
    pair.connected = False
    pair.send(ESME, Unbind())
    assert state_of(pair.esme) is SessionState.UNBOUND
    events = pair.advance(10.0)
    assert events[ESME][-1] == SessionClosed(CloseReason.UNBIND_TIMEOUT)


def test_duplicate_inbound_sequence_numbers() -> None:
    pair = SessionPair()
    pair.bind()
    first = SubmitSm(sequence_number=9, short_message=b"a")
    second = SubmitSm(sequence_number=9, short_message=b"b")
    pair.inject(ESME, raw(first) + raw(second))
    assert pair.smsc.inbound_pending_count == 2
    pair.smsc.send(SubmitSmResp(sequence_number=9), pair.now)
    pair.smsc.send(SubmitSmResp(sequence_number=9), pair.now)
    assert pair.smsc.inbound_pending_count == 0
    with pytest.raises(InvalidStateError):
        pair.smsc.send(SubmitSmResp(sequence_number=9), pair.now)


def test_tables_cover_every_state_for_both_roles() -> None:
    for role in Role:
        assert set(REQUEST_TRANSITIONS[role]) == set(SessionState)
    assert REQUEST_TRANSITIONS[ESME][SessionState.CLOSED] == {}


def test_bind_response_classes() -> None:
    # A bind_receiver must be answered by a bind_receiver_resp, not another bind response.
    pair = SessionPair()
    pair.send(ESME, BindReceiver())
    with pytest.raises(InvalidStateError):
        pair.smsc.send(BindTransmitterResp(sequence_number=1), pair.now)
    pair.send(SMSC, BindReceiverResp(sequence_number=1))
    assert state_of(pair.esme) is SessionState.BOUND_RX
