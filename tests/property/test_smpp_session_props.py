"""The (state, input) closure of the session table for both roles (h2 test_state_machines style).

For every role, state and input, the session either makes exactly the transition the table in
simulator/smpp/session.py names, or produces exactly the refusal SMPP-ERRORS obliges.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.smpp.codec import decode, encode
from simulator.smpp.constants import CommandId, CommandStatus
from simulator.smpp.errors import InvalidStateError, UnexpectedPduError, UnknownCommandError
from simulator.smpp.events import AutoReplied, PduReceived, ProtocolViolation, SessionClosed
from simulator.smpp.pdu import (
    PDU_CLASSES,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    GenericNack,
    Request,
    Unbind,
    make_error_response,
)
from simulator.smpp.session import (
    DEFAULT_REJECTION,
    NO_RESPONSE,
    REQUEST_REJECTIONS,
    REQUEST_TRANSITIONS,
    Role,
    Session,
    SessionState,
)
from tests.unit.smpp.helpers import SessionPair, sample_request, state_of

REQUEST_IDS = sorted(cid for cid, cls in PDU_CLASSES.items() if issubclass(cls, Request))
RESPONSE_IDS = sorted(cid for cid, cls in PDU_CLASSES.items() if not issubclass(cls, Request))
UNKNOWN_IDS = [0x00000000, 0x0000000A, 0x00000099, 0x00000104, 0x80000102, 0x8000000B]
PEER_SEQ = 4242


def session_in(role: Role, state: SessionState) -> Session:
    """Drive a real exchange until the session of ``role`` is in ``state``; drain its events."""
    pair = SessionPair()
    me = pair.session(role)
    if state is SessionState.BINDING:
        pair.send(Role.ESME, BindTransceiver(system_id="esme"))
    elif state is SessionState.BOUND_TX:
        pair.bind(BindTransmitter(system_id="esme"))
    elif state is SessionState.BOUND_RX:
        pair.bind(BindReceiver(system_id="esme"))
    elif state is SessionState.BOUND_TRX:
        pair.bind(BindTransceiver(system_id="esme"))
    elif state is SessionState.UNBOUND:
        pair.bind()
        pair.connected = False
        pair.send(role, Unbind())
    elif state is SessionState.CLOSED:
        me.close(pair.now)
    list(me.events())
    me.data_to_send()
    assert state_of(me) is state
    return me


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", list(SessionState))
def test_every_state_is_reachable(role: Role, state: SessionState) -> None:
    session_in(role, state)


@given(
    role=st.sampled_from(Role),
    state=st.sampled_from(SessionState),
    command_id=st.sampled_from(REQUEST_IDS + UNKNOWN_IDS),
)
def test_received_request_follows_the_table(
    role: Role, state: SessionState, command_id: int
) -> None:
    me = session_in(role, state)
    if command_id in PDU_CLASSES:
        data = encode(sample_request(command_id, PEER_SEQ))
    else:
        data = struct.pack(">IIII", 16, command_id, 0, PEER_SEQ)
    me.receive_data(data, 1000.0)
    events = list(me.events())
    out = me.data_to_send()
    if state is SessionState.CLOSED:
        assert (events, out) == ([], b"")
        return
    allowed = REQUEST_TRANSITIONS[role.peer][state]
    if command_id not in PDU_CLASSES:
        # Row 4: generic_nack ESME_RINVCMDID echoing seq, session kept.
        assert out == encode(GenericNack(PEER_SEQ, CommandStatus.ESME_RINVCMDID))
        [violation] = events
        assert isinstance(violation, ProtocolViolation)
        assert isinstance(violation.error, UnknownCommandError)
        assert state_of(me) is state
    elif command_id in allowed:
        request = decode(data)
        assert isinstance(request, Request)
        if command_id == CommandId.ENQUIRE_LINK:
            assert out == encode(make_error_response(command_id, PEER_SEQ, 0))
            assert events == [AutoReplied(request, make_error_response(command_id, PEER_SEQ, 0))]
            assert state_of(me) is state
        elif command_id == CommandId.UNBIND:
            assert out == encode(make_error_response(command_id, PEER_SEQ, 0))
            assert isinstance(events[0], AutoReplied)
            assert isinstance(events[-1], SessionClosed)
            assert state_of(me) is SessionState.CLOSED
        else:
            assert events == [PduReceived(request)]
            assert out == b""
            assert state_of(me) is allowed[command_id]
            expected_pending = 0 if command_id in NO_RESPONSE else 1
            if state is SessionState.BINDING and role is Role.SMSC:
                expected_pending += 1  # the bind itself is still unanswered
            assert me.inbound_pending_count == expected_pending
    else:
        # Rows 6 and 7: the *_resp (generic_nack if none) with the table's status, body omitted.
        status = REQUEST_REJECTIONS[role.peer][state].get(command_id, DEFAULT_REJECTION)
        reply = make_error_response(command_id, PEER_SEQ, status)
        assert out == encode(reply)
        assert len(out) == 16
        [violation] = events
        assert isinstance(violation, ProtocolViolation)
        assert isinstance(violation.error, UnexpectedPduError)
        assert violation.reply == reply
        assert state_of(me) is state


@given(
    role=st.sampled_from(Role),
    state=st.sampled_from(SessionState),
    command_id=st.sampled_from(REQUEST_IDS),
)
def test_sent_request_follows_the_table(role: Role, state: SessionState, command_id: int) -> None:
    me = session_in(role, state)
    request = sample_request(command_id)
    outstanding = me.outstanding_count
    allowed = REQUEST_TRANSITIONS[role][state]
    if command_id not in allowed:
        with pytest.raises(InvalidStateError) as info:
            me.send(request, 1000.0)
        if state is not SessionState.CLOSED:
            assert info.value.command_status_hint == REQUEST_REJECTIONS[role][state].get(
                command_id, DEFAULT_REJECTION
            )
        assert state_of(me) is state
        assert request.sequence_number == 0
        assert me.outstanding_count == outstanding
        return
    assert me.can_send(command_id)
    data = me.send(request, 1000.0)
    assert request.sequence_number != 0
    assert decode(data) == request
    assert state_of(me) is allowed[command_id]
    assert me.outstanding_count == outstanding + (0 if command_id in NO_RESPONSE else 1)


@given(
    role=st.sampled_from(Role),
    state=st.sampled_from(SessionState),
    command_id=st.sampled_from(RESPONSE_IDS),
    status=st.sampled_from([0, CommandStatus.ESME_RSYSERR]),
)
def test_unmatched_response_is_dropped(
    role: Role, state: SessionState, command_id: int, status: int
) -> None:
    # Row 22: a response that answers nothing is reported and never answered.
    me = session_in(role, state)
    me.receive_data(struct.pack(">IIII", 16, command_id, status, PEER_SEQ), 1000.0)
    events = list(me.events())
    assert me.data_to_send() == b""
    assert state_of(me) is state
    if state is SessionState.CLOSED:
        assert events == []
    else:
        [violation] = events
        assert isinstance(violation, ProtocolViolation)
        assert violation.reply is None
