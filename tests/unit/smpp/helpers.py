"""Test helpers for simulator.smpp: golden hex loader, sample PDUs, two sessions on a fake wire.

``SessionPair`` follows h11's ``ConnectionPair`` and aioquic's ``client_and_server``: two real,
pure endpoints (ESME role and SMSC role) with a fake network in between and a manual clock.
"""

from __future__ import annotations

from pathlib import Path

from simulator.smpp.codec import encode
from simulator.smpp.events import Event, PduReceived
from simulator.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindRequest,
    BindResponse,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DeliverSm,
    DistributionListDestAddress,
    EnquireLink,
    Outbind,
    Pdu,
    QuerySm,
    ReplaceSm,
    Request,
    SmeDestAddress,
    SubmitMulti,
    SubmitSm,
    Unbind,
)
from simulator.smpp.session import Role, Session, SessionConfig, SessionState

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "data" / "pdus"


def load_hex(name: str) -> bytes:
    """Read a golden PDU: hex octets, whitespace ignored, ``#`` comments to end of line."""
    text = (GOLDEN_DIR / name).read_text(encoding="utf-8")
    digits = "".join(line.split("#", 1)[0] for line in text.splitlines())
    return bytes.fromhex("".join(digits.split()))


def sample_request(command_id: int, sequence_number: int = 0) -> Request:
    """A valid request of each command_id, fresh on every call (sessions write seq in place)."""
    factories: dict[int, Request] = {
        BindTransmitter.command_id: BindTransmitter(system_id="esme", password="pw"),
        BindReceiver.command_id: BindReceiver(system_id="esme", password="pw"),
        BindTransceiver.command_id: BindTransceiver(system_id="esme", password="pw"),
        Outbind.command_id: Outbind(system_id="smsc", password="pw"),
        Unbind.command_id: Unbind(),
        EnquireLink.command_id: EnquireLink(),
        SubmitSm.command_id: SubmitSm(
            source_addr="ACME", destination_addr="819012345678", short_message=b"hi"
        ),
        DeliverSm.command_id: DeliverSm(
            source_addr="819012345678", destination_addr="ACME", short_message=b"mo"
        ),
        SubmitMulti.command_id: SubmitMulti(
            source_addr="ACME",
            dest_addresses=(SmeDestAddress(1, 1, "819012345678"), DistributionListDestAddress("L")),
            short_message=b"hi",
        ),
        DataSm.command_id: DataSm(source_addr="ACME", destination_addr="819012345678"),
        QuerySm.command_id: QuerySm(message_id="m1", source_addr="ACME"),
        CancelSm.command_id: CancelSm(message_id="m1", source_addr="ACME"),
        ReplaceSm.command_id: ReplaceSm(message_id="m1", source_addr="ACME", short_message=b"x"),
        AlertNotification.command_id: AlertNotification(source_addr="8190", esme_addr="ACME"),
    }
    request = factories[command_id]
    request.sequence_number = sequence_number
    return request


BIND_RESPONSES: dict[type[BindRequest], type[BindResponse]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}

BOUND_STATE_OF: dict[type[BindRequest], SessionState] = {
    BindTransmitter: SessionState.BOUND_TX,
    BindReceiver: SessionState.BOUND_RX,
    BindTransceiver: SessionState.BOUND_TRX,
}


class SessionPair:
    """An ESME-role and an SMSC-role session joined by a fake wire, with a manual clock."""

    def __init__(
        self,
        now: float = 1000.0,
        config: SessionConfig | None = None,
        *,
        esme_config: SessionConfig | None = None,
        smsc_config: SessionConfig | None = None,
        esme_first_seq: int = 1,
        smsc_first_seq: int = 1,
    ) -> None:
        self.now = now
        self.esme = Session(
            Role.ESME, now, esme_config or config, first_sequence_number=esme_first_seq
        )
        self.smsc = Session(
            Role.SMSC, now, smsc_config or config, first_sequence_number=smsc_first_seq
        )
        self.wire: list[tuple[Role, bytes]] = []
        """Every chunk that crossed the wire, with its sender, in order."""
        self.connected = True
        """When False, bytes are still logged but not delivered (a black-holed link)."""

    def session(self, role: Role) -> Session:
        return self.esme if role is Role.ESME else self.smsc

    def _deliver(self, sender: Role, data: bytes) -> None:
        if not data:
            return
        self.wire.append((sender, data))
        if self.connected:
            self.session(sender.peer).receive_data(data, self.now)

    def send(self, role: Role, pdu: Pdu) -> dict[Role, list[Event]]:
        """Send through the session of ``role``, deliver, pump; return both sides' events."""
        self._deliver(role, self.session(role).send(pdu, self.now))
        return self.pump()

    def inject(self, role: Role, data: bytes) -> dict[Role, list[Event]]:
        """Put raw octets on the wire as if ``role``'s side had written them, then pump."""
        self._deliver(role, data)
        return self.pump()

    def pump(self) -> dict[Role, list[Event]]:
        """Move queued octets both ways until quiet; collect every event of both sides."""
        events: dict[Role, list[Event]] = {Role.ESME: [], Role.SMSC: []}
        for _ in range(10):
            moved = False
            for role in (Role.ESME, Role.SMSC):
                data = self.session(role).data_to_send()
                if data:
                    moved = True
                    self._deliver(role, data)
            for role in (Role.ESME, Role.SMSC):
                events[role].extend(self.session(role).events())
            if not moved:
                return events
        raise AssertionError("the wire did not go quiet within 10 rounds")

    def advance(self, seconds: float) -> dict[Role, list[Event]]:
        """Move the clock, fire both sides' timers, pump."""
        self.now += seconds
        self.esme.handle_timer(self.now)
        self.smsc.handle_timer(self.now)
        return self.pump()

    def sent_by(self, role: Role) -> bytes:
        """Everything ``role`` has written so far, concatenated."""
        return b"".join(data for sender, data in self.wire if sender is role)

    def bind(self, request: BindRequest | None = None, system_id: str = "SIMSMSC") -> None:
        """Run a successful bind of the given kind (default bind_transceiver)."""
        request = request if request is not None else BindTransceiver(system_id="esme")
        events = self.send(Role.ESME, request)
        assert events[Role.SMSC] == [PduReceived(request)]
        response = BIND_RESPONSES[type(request)](
            sequence_number=request.sequence_number, system_id=system_id
        )
        events = self.send(Role.SMSC, response)
        assert events[Role.ESME] == [PduReceived(response)]
        bound = BOUND_STATE_OF[type(request)]
        assert state_of(self.esme) is bound
        assert state_of(self.smsc) is bound


def state_of(session: Session) -> SessionState:
    """The session's state (a call, so that mypy does not narrow it across actions)."""
    return session.state


def is_closed(session: Session) -> bool:
    """Whether the session is CLOSED (a call, for the same reason as ``state_of``)."""
    return session.closed


def raw(pdu: Pdu) -> bytes:
    """Encode a PDU without any session checks (for injecting what a peer might send)."""
    return encode(pdu)
