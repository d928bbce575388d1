"""A minimal, fast asyncio SMSC for loopback tests and load measurements of the gateway.

Not the simulator (simulator/server.py is the carrier model): this is a test double that speaks
just enough SMPP 3.4 to exercise the gateway's paths, as fast as one Python process can, so that
a load test measures the gateway and not the server.

What it does:
    * Answers bind_transmitter / bind_receiver / bind_transceiver (any system_id; a password is
      checked only when `FastSmsc(password=...)` is set), enquire_link, unbind (then closes), and
      submit_sm with an incrementing message id (decimal or hex, optional zero padding).
    * Sends delivery receipts (deliver_sm, esm_class 0x04) after `receipt_delay` seconds, with
      the receipted_message_id TLV and the Appendix B text; optionally *before* the
      submit_sm_resp, twice (duplicates), or held until `release_receipts()`.
    * Keeps every deliver_sm until its deliver_sm_resp: unacknowledged ones (the ESME died)
      are delivered again on the next bind of the same system_id, as a real SMSC retries.
    * Knobs to exercise the gateway: ESME_RTHROTTLED every Nth submit, an error status for
      chosen destinations or every Nth submit, no response for chosen destinations or every
      Nth submit, one generic_nack with sequence 0 after N submits.
    * Records every submit_sm in arrival order (`submits`) unless `record=False`, and counts
      duplicates (the same destination + user data + SAR values submitted twice).
    * `send_mo(...)` writes a mobile-originated deliver_sm to a bound receiver session.

Cost (it shares the machine's cores with the gateway it measures): a read pass answers
every PDU the read brought and writes the answers with one write. Submits that no knob looks
at beyond their addresses (nothing recorded, no error/throttle/no-response knob, receipts once
with `receipt_stat`) take a fast path (`FastSmsc._plain_submit`): only the addresses and
registered_delivery are parsed, the response and receipt are built from preformatted bytes
(the receipt text after ``id:`` is built once per minute). On both paths the receipts of a
read pass are one group, due `receipt_delay` after the end of the pass (when the pass's
submit_sm_resp are written) and written together; before, each was due `receipt_delay` after
its own submit was parsed, so one pass's receipts left in a few writes spread over the time the
pass took. The bytes are the same as before and on both paths
(tests/unit/bench/test_fast_smsc_wire.py). ~7 us of CPU per message with a receipt against
the gateway, uvloop (was ~18).

Invariants:
    * Framing is checked before buffering: a command_length outside 16..MAX_PDU gets a
      generic_nack with sequence 0 and the connection is closed (SMPP-ERRORS.md rows 1-2).
    * The server never reads the wall clock for decisions other than when to send a receipt
      (an I/O shell): every knob is deterministic in the order of the submits it sees.

Usage::

    async with FastSmsc(receipts=True, receipt_delay=0.05) as smsc:
        ...connect an ESME to 127.0.0.1:smsc.port...

    python -m bench.fast_smsc --port 2775 --receipts --receipt-delay 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Literal, Self, cast

# -- SMPP 3.4 constants (§5.1.2 command ids, §5.1.3 statuses, §5.3.2 TLV tags) -----------------

GENERIC_NACK: Final[int] = 0x80000000
BIND_RECEIVER: Final[int] = 0x00000001
BIND_TRANSMITTER: Final[int] = 0x00000002
SUBMIT_SM: Final[int] = 0x00000004
DELIVER_SM: Final[int] = 0x00000005
DELIVER_SM_RESP: Final[int] = 0x80000005
UNBIND: Final[int] = 0x00000006
UNBIND_RESP: Final[int] = 0x80000006
BIND_TRANSCEIVER: Final[int] = 0x00000009
ENQUIRE_LINK: Final[int] = 0x00000015
ENQUIRE_LINK_RESP: Final[int] = 0x80000015

ESME_ROK: Final[int] = 0x00
ESME_RINVCMDLEN: Final[int] = 0x02
ESME_RINVCMDID: Final[int] = 0x03
ESME_RINVBNDSTS: Final[int] = 0x04
ESME_RALYBND: Final[int] = 0x05
ESME_RSYSERR: Final[int] = 0x08
ESME_RINVPASWD: Final[int] = 0x0E
ESME_RTHROTTLED: Final[int] = 0x58

TAG_RECEIPTED_MESSAGE_ID: Final[int] = 0x001E
TAG_SAR_MSG_REF_NUM: Final[int] = 0x020C
TAG_SAR_TOTAL_SEGMENTS: Final[int] = 0x020E
TAG_SAR_SEGMENT_SEQNUM: Final[int] = 0x020F
TAG_MESSAGE_PAYLOAD: Final[int] = 0x0424
TAG_MESSAGE_STATE: Final[int] = 0x0427

#: Largest PDU accepted (Kannel's limit is 7424; message_payload may need more).
MAX_PDU: Final[int] = 70_000
_HEADER: Final = struct.Struct(">IIII")
_U16: Final = struct.Struct(">H")

#: message_state TLV value per receipt stat (SMPP 3.4 §5.2.28).
_MESSAGE_STATE: Final[dict[str, int]] = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}

IdFormat = Literal["dec", "hex"]
_SUBMITTERS: Final = frozenset({"transmitter", "transceiver"})
_SUBMIT_SM_RESP: Final[int] = SUBMIT_SM | 0x80000000
#: deliver_sm fields after the destination address: esm_class 0x04 (receipt), protocol_id,
#: priority_flag, empty schedule_delivery_time and validity_period, registered_delivery,
#: replace_if_present_flag, data_coding 0, sm_default_msg_id.
_RECEIPT_MIDDLE: Final[bytes] = b"\x04\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x00"
_RID_TLV_TAG: Final[bytes] = _U16.pack(TAG_RECEIPTED_MESSAGE_ID)
#: `FastSmsc._receipt_body` with the ``id:`` text and the TLVs, as one bytes format: service_type,
#: source TON/NPI 1/address (the submit's destination), destination TON/NPI 1/address,
#: `_RECEIPT_MIDDLE`, sm_length, ``id:<rid> <suffix>``, receipted_message_id (tag 0x001E, a
#: length under 256), then the message_state TLV.
_RECEIPT_FORMAT: Final[bytes] = (
    b"\x00%c\x01%b\x00%c\x01%b\x00"
    + _RECEIPT_MIDDLE
    + b"%cid:%b %b"
    + _RID_TLV_TAG
    + b"\x00%c%b\x00%b"
)
BindKind = Literal["transmitter", "receiver", "transceiver"]
_BIND_KIND: Final[dict[int, BindKind]] = {
    BIND_TRANSMITTER: "transmitter",
    BIND_RECEIVER: "receiver",
    BIND_TRANSCEIVER: "transceiver",
}


@dataclass(slots=True)
class SubmitRecord:
    """One submit_sm as the SMSC saw it, in arrival order."""

    session: int
    """Session number (1 for the first connection)."""
    system_id: str
    """system_id of the session's bind."""
    sequence_number: int
    """The PDU's sequence number."""
    source: str
    """source_addr."""
    source_ton: int
    """source_addr_ton."""
    destination: str
    """destination_addr."""
    dest_ton: int
    """dest_addr_ton."""
    esm_class: int
    """esm_class (0x40: the short_message starts with a UDH)."""
    data_coding: int
    """data_coding."""
    registered_delivery: int
    """registered_delivery (bit 0: a receipt is wanted)."""
    short_message: bytes
    """short_message octets, UDH included."""
    tlvs: dict[int, bytes]
    """Optional parameters by tag (raw values)."""
    status: int
    """command_status answered (None-like -1 when no response was sent)."""
    message_id: str | None
    """message_id answered (None for an error or no response)."""
    validity_period: str = ""
    """validity_period as written."""

    @property
    def message_payload(self) -> bytes | None:
        """The message_payload TLV, if present."""
        return self.tlvs.get(TAG_MESSAGE_PAYLOAD)

    @property
    def sar(self) -> tuple[int, int, int] | None:
        """(reference, total, seq) from the sar_* TLVs, if present."""
        ref = self.tlvs.get(TAG_SAR_MSG_REF_NUM)
        total = self.tlvs.get(TAG_SAR_TOTAL_SEGMENTS)
        seq = self.tlvs.get(TAG_SAR_SEGMENT_SEQNUM)
        if ref is None or total is None or seq is None:
            return None
        return int.from_bytes(ref, "big"), total[0], seq[0]

    @property
    def key(self) -> tuple[str, bytes, bytes | None, tuple[int, int, int] | None]:
        """Identity of the submitted part: same key twice means a duplicate at the SMSC."""
        return (self.destination, self.short_message, self.message_payload, self.sar)


@dataclass(slots=True)
class FastSmscStats:
    """Counters of one server."""

    binds: int = 0
    """Successful binds."""
    sessions: int = 0
    """Connections accepted."""
    submits: int = 0
    """submit_sm PDUs received."""
    accepted: int = 0
    """submit_sm answered ESME_ROK."""
    responses: Counter[int] = field(default_factory=Counter)
    """submit_sm_resp sent, by command_status."""
    unanswered: int = 0
    """submit_sm deliberately left without a response."""
    nacks: int = 0
    """generic_nack PDUs sent."""
    receipts_sent: int = 0
    """deliver_sm receipts written (redeliveries included)."""
    receipts_acked: int = 0
    """deliver_sm_resp received for receipts."""
    mo_sent: int = 0
    """MO deliver_sm written."""
    redelivered: int = 0
    """deliver_sm written again after the ESME lost the first copy."""
    first_submit_at: float | None = None
    """perf_counter() of the first submit_sm."""
    last_submit_at: float | None = None
    """perf_counter() of the latest submit_sm."""


@dataclass(slots=True)
class _Pending:
    """A deliver_sm waiting to be written or acknowledged."""

    system_id: str
    body: bytes
    receipt: bool
    prefer: _Session | None = None


def _cstr(data: bytes | bytearray, offset: int) -> tuple[str, int]:
    end = data.index(0, offset)
    return bytes(data[offset:end]).decode("latin-1"), end + 1


def _format_id(n: int, fmt: IdFormat, width: int) -> str:
    text = format(n, "X") if fmt == "hex" else str(n)
    return text.rjust(width, "0") if width else text


class _Session(asyncio.Protocol):
    """One ESME connection: parse PDUs, answer them, write deliver_sm."""

    def __init__(self, server: FastSmsc, number: int) -> None:
        self.server = server
        self.number = number
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.system_id = ""
        self.bound: BindKind | None = None
        self.next_seq = 0
        self.unacked: dict[int, _Pending] = {}
        self.out: list[bytes] = []

    # -- transport callbacks --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but have the same API.
        self.transport = cast(asyncio.Transport, transport)
        self.server._sessions.add(self)
        self.server.stats.sessions += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._sessions.discard(self)
        self.server._lost(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        offset = 0
        size = len(buf)
        server = self.server
        # Plain submits (no knob that looks at the submit beyond its addresses) take the fast
        # path; the knobs are read once per read pass.
        plain = server._begin_pass() and self.bound in _SUBMITTERS
        tried = answered = 0  # plain submits read / answered in this pass
        try:
            while size - offset >= 16:
                length, command, status, seq = _HEADER.unpack_from(buf, offset)
                if not 16 <= length <= MAX_PDU:
                    self._write_now(_HEADER.pack(16, GENERIC_NACK, ESME_RINVCMDLEN, 0))
                    server.stats.nacks += 1
                    self.close()
                    return
                if size - offset < length:
                    break
                if command == SUBMIT_SM and plain:
                    tried += 1
                    server._plain_submit(self, seq, buf, offset + 16)
                    answered += 1
                else:
                    self._handle(command, status, seq, buf, offset, offset + length)
                    plain = plain and self.bound in _SUBMITTERS  # an unbind ends it
                offset += length
        finally:
            server._end_pass(tried, answered)
        if offset:
            del buf[:offset]
        self.flush()

    # -- output ---------------------------------------------------------------------------

    def send(self, pdu: bytes) -> None:
        """Queue a PDU; written at the end of the current read (or by `flush`)."""
        self.out.append(pdu)

    def flush(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def _write_now(self, pdu: bytes) -> None:
        self.send(pdu)
        self.flush()

    def close(self) -> None:
        if self.transport is not None:
            self.flush()
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def deliver(self, pending: _Pending) -> None:
        """Write a deliver_sm and keep it until its deliver_sm_resp."""
        self.next_seq = self.next_seq + 1 if self.next_seq < 0x7FFFFFFF else 1
        seq = self.next_seq
        self.unacked[seq] = pending
        self.send(_HEADER.pack(16 + len(pending.body), DELIVER_SM, 0, seq) + pending.body)

    @property
    def can_receive(self) -> bool:
        return self.bound in ("receiver", "transceiver") and self.transport is not None

    # -- PDUs -----------------------------------------------------------------------------

    def _handle(
        self, command: int, status: int, seq: int, buf: bytearray, start: int, end: int
    ) -> None:
        server = self.server
        if command == SUBMIT_SM:
            if self.bound not in ("transmitter", "transceiver"):
                self.send(_HEADER.pack(16, SUBMIT_SM | 0x80000000, ESME_RINVBNDSTS, seq))
                return
            server._submit(self, seq, buf, start + 16, end)
        elif command == DELIVER_SM_RESP:
            pending = self.unacked.pop(seq, None)
            if pending is not None and pending.receipt:
                server.stats.receipts_acked += 1
        elif command == ENQUIRE_LINK:
            self.send(_HEADER.pack(16, ENQUIRE_LINK_RESP, ESME_ROK, seq))
        elif command in _BIND_KIND:
            self._bind(command, seq, buf, start + 16)
        elif command == UNBIND:
            self.send(_HEADER.pack(16, UNBIND_RESP, ESME_ROK, seq))
            self.bound = None
            self.close()
        elif command & 0x80000000:
            pass  # a response to nothing we track (enquire_link_resp...): drop, never nack
        else:
            self.send(_HEADER.pack(16, GENERIC_NACK, ESME_RINVCMDID, seq))
            server.stats.nacks += 1

    def _bind(self, command: int, seq: int, buf: bytearray, offset: int) -> None:
        server = self.server
        resp = command | 0x80000000
        system_id, offset = _cstr(buf, offset)
        password, offset = _cstr(buf, offset)
        if self.bound is not None:
            self.send(_HEADER.pack(16, resp, ESME_RALYBND, seq))
            return
        if server.password is not None and password != server.password:
            self._write_now(_HEADER.pack(16, resp, ESME_RINVPASWD, seq))
            self.close()
            return
        body = b"fastsmsc\x00"
        self.send(_HEADER.pack(16 + len(body), resp, ESME_ROK, seq) + body)
        self.system_id = system_id
        self.bound = _BIND_KIND[command]
        server.stats.binds += 1
        server.bind_log.append((self.number, system_id, self.bound))
        if self.can_receive:
            server._redeliver(self)


class FastSmsc:
    """The server. Use as ``async with FastSmsc(...) as smsc:`` (listens on `smsc.port`).

    Args:
        host: Address to listen on.
        port: Port (0: an ephemeral port, see `port` after start).
        password: Required password, or None to accept any.
        receipts: Send delivery receipts for submits with registered_delivery bit 0 set.
        receipt_delay: Seconds between the submit_sm_resp and the receipt.
        receipt_stat: The ``stat`` of every receipt, unless `receipt_stat_for` decides.
        receipt_stat_for: Called with each accepted submit; returns its receipt stat.
        receipts_before_resp: Write the receipt before the submit_sm_resp (same read).
        duplicate_receipts: Write every receipt twice.
        hold_receipts: Keep receipts until `release_receipts()` is called.
        receipt_tlv: Put receipted_message_id and message_state TLVs in receipts.
        receipt_text_id: Write the ``id:`` field in the receipt text (else ``id:`` is omitted).
        resp_id_format: Message ids in submit_sm_resp: decimal or hex.
        receipt_id_format: Message ids in receipts (text and TLV): decimal or hex.
        id_width: Zero-pad ids to this width (0: no padding).
        id_start: First message id.
        throttle_every: Answer every Nth submit_sm with ESME_RTHROTTLED (0: never).
        error_every: Answer every Nth submit_sm with `error_status` (0: never).
        error_status: The status for `error_every`.
        error_for: Destination -> status to answer every submit to it with.
        no_response_every: Leave every Nth submit_sm unanswered (0: never).
        no_response_for: Destination -> how many of its submits to leave unanswered.
        nack_seq0_after: After this many submits, answer the next one with a generic_nack of
            sequence 0 (ESME_RINVCMDLEN) instead of a response, once (0: never).
        redeliver_unacked: Re-send deliver_sm left unacknowledged when a session closed.
        record: Keep a `SubmitRecord` of every submit (turn off for long load runs).
        track_duplicates: Count submits with the same key (see `SubmitRecord.key`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str | None = None,
        receipts: bool = True,
        receipt_delay: float = 0.0,
        receipt_stat: str = "DELIVRD",
        receipt_stat_for: Callable[[SubmitRecord], str] | None = None,
        receipts_before_resp: bool = False,
        duplicate_receipts: bool = False,
        hold_receipts: bool = False,
        receipt_tlv: bool = True,
        receipt_text_id: bool = True,
        resp_id_format: IdFormat = "dec",
        receipt_id_format: IdFormat = "dec",
        id_width: int = 0,
        id_start: int = 1,
        throttle_every: int = 0,
        error_every: int = 0,
        error_status: int = ESME_RSYSERR,
        error_for: dict[str, int] | None = None,
        no_response_every: int = 0,
        no_response_for: dict[str, int] | None = None,
        nack_seq0_after: int = 0,
        redeliver_unacked: bool = True,
        record: bool = True,
        track_duplicates: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.password = password
        self.receipts = receipts
        self.receipt_delay = receipt_delay
        self.receipt_stat = receipt_stat
        self.receipt_stat_for = receipt_stat_for
        self.receipts_before_resp = receipts_before_resp
        self.duplicate_receipts = duplicate_receipts
        self.hold_receipts = hold_receipts
        self.receipt_tlv = receipt_tlv
        self.receipt_text_id = receipt_text_id
        self.resp_id_format: IdFormat = resp_id_format
        self.receipt_id_format: IdFormat = receipt_id_format
        self.id_width = id_width
        self.throttle_every = throttle_every
        self.error_every = error_every
        self.error_status = error_status
        self.error_for = dict(error_for or {})
        self.no_response_every = no_response_every
        self.no_response_for = dict(no_response_for or {})
        self.nack_seq0_after = nack_seq0_after
        self.redeliver_unacked = redeliver_unacked
        self.record = record
        self.track_duplicates = track_duplicates
        self.stats = FastSmscStats()
        self.submits: list[SubmitRecord] = []
        """Every submit_sm in arrival order (when `record`)."""
        self.bind_log: list[tuple[int, str, BindKind]] = []
        """(session number, system_id, bind kind) of every successful bind."""
        self._keys: Counter[tuple[str, bytes, bytes | None, tuple[int, int, int] | None]] = (
            Counter()
        )
        self._next_id = id_start
        self._nacked = False
        self._sessions: set[_Session] = set()
        self._session_counter = 0
        self._due: deque[tuple[float, list[_Pending]]] = deque()
        """Receipts waiting for their time, one group per read pass, in due order."""
        self._batch: list[_Pending] = []
        """Receipts of the current read pass (one `_due` group at its end)."""
        self._plain_ids = True
        """Both id formats are unpadded decimal (the pass's cached knob)."""
        self._suffix_key: tuple[int, str] = (-1, "")
        self._suffix = b""
        self._state_tlv = b""
        self._held: list[_Pending] = []
        self._retry: dict[str, deque[_Pending]] = {}
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; `port` is the bound port afterwards."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()

        def factory() -> _Session:
            self._session_counter += 1
            return _Session(self, self._session_counter)

        self._server = await loop.create_server(factory, self.host, self.port, backlog=256)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick(), name="fast-smsc-receipts")

    async def stop(self) -> None:
        """Stop listening and close every session."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                session.abort()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- test helpers ---------------------------------------------------------------------

    @property
    def sessions(self) -> int:
        """Open sessions."""
        return len(self._sessions)

    def duplicates(self) -> int:
        """Submits whose key had been submitted before (0 when nothing was sent twice)."""
        return sum(n - 1 for n in self._keys.values() if n > 1)

    def accepted(self) -> list[SubmitRecord]:
        """Recorded submits answered ESME_ROK, in arrival order."""
        return [r for r in self.submits if r.status == ESME_ROK]

    def drop_sessions(self) -> None:
        """Abort every connection (a network failure seen from the ESME)."""
        for session in list(self._sessions):
            session.abort()

    def release_receipts(self) -> int:
        """Stop holding receipts and schedule the held ones now; returns how many."""
        self.hold_receipts = False
        held, self._held = self._held, []
        now = time.monotonic()
        if held:
            self._due.append((now, held))
        self._wake.set()
        return len(held)

    def send_mo(
        self,
        source: str,
        destination: str,
        short_message: bytes,
        *,
        data_coding: int = 0,
        esm_class: int = 0,
        tlvs: dict[int, bytes] | None = None,
        source_ton: int = 1,
        system_id: str | None = None,
    ) -> bool:
        """Write a mobile-originated deliver_sm to a bound receiver/transceiver session.

        Args:
            source: The handset (source_addr).
            destination: Our number (destination_addr).
            short_message: The user data (UDH included when esm_class has 0x40).
            data_coding: data_coding.
            esm_class: esm_class (0x40 for a UDH).
            tlvs: Extra TLVs (e.g. sar_* or message_payload) by tag.
            source_ton: TON of the source address.
            system_id: Only to a session of this system_id.

        Returns:
            True if a session took it, False if none could (it is kept for the next bind).
        """
        body = _sm_body(
            source,
            source_ton,
            destination,
            1,
            esm_class,
            data_coding,
            short_message,
            tlvs or {},
        )
        pending = _Pending(system_id or "", body, receipt=False)
        session = self._receiver_for(system_id)
        self.stats.mo_sent += 1
        if session is None:
            self._retry.setdefault(system_id or "", deque()).append(pending)
            return False
        pending.system_id = session.system_id
        session.deliver(pending)
        session.flush()
        return True

    def send_receipt(
        self,
        message_id: str,
        *,
        stat: str = "DELIVRD",
        source: str = "819000000000",
        destination: str = "SENDER",
        tlv: bool = True,
    ) -> bool:
        """Write a receipt for any message id (e.g. one the ESME never submitted).

        Returns:
            True if a session took it.
        """
        text = f"id:{message_id} sub:001 dlvrd:001 stat:{stat} err:000 text:"
        tlvs: dict[int, bytes] = {}
        if tlv:
            tlvs[TAG_RECEIPTED_MESSAGE_ID] = message_id.encode("ascii") + b"\x00"
        body = _sm_body(source, 1, destination, 5, 0x04, 0, text.encode("ascii"), tlvs)
        session = self._receiver_for(None)
        if session is None:
            return False
        session.deliver(_Pending(session.system_id, body, receipt=True))
        session.flush()
        self.stats.receipts_sent += 1
        return True

    # -- internals ------------------------------------------------------------------------

    def _new_id(self) -> int:
        n = self._next_id
        self._next_id += 1
        return n

    def _submit(self, session: _Session, seq: int, buf: bytearray, offset: int, end: int) -> None:
        stats = self.stats
        stats.submits += 1
        n = stats.submits
        now = time.perf_counter()
        if stats.first_submit_at is None:
            stats.first_submit_at = now
        stats.last_submit_at = now
        want_fields = (
            self.record
            or self.track_duplicates
            or self.receipts
            or bool(self.error_for or self.no_response_for)
        )
        record: SubmitRecord | None = None
        if want_fields:
            record = _parse_submit(session, seq, buf, offset, end)
        destination = record.destination if record is not None else ""

        status = ESME_ROK
        respond = True
        if self.nack_seq0_after and not self._nacked and n > self.nack_seq0_after:
            self._nacked = True
            session.send(_HEADER.pack(16, GENERIC_NACK, ESME_RINVCMDLEN, 0))
            stats.nacks += 1
            respond = False
        elif self.no_response_every and n % self.no_response_every == 0:
            respond = False
        elif destination in self.no_response_for and self.no_response_for[destination] > 0:
            self.no_response_for[destination] -= 1
            respond = False
        elif self.throttle_every and n % self.throttle_every == 0:
            status = ESME_RTHROTTLED
        elif destination in self.error_for:
            status = self.error_for[destination]
        elif self.error_every and n % self.error_every == 0:
            status = self.error_status

        message_id: str | None = None
        number = 0
        if respond and status == ESME_ROK:
            number = self._new_id()
            message_id = _format_id(number, self.resp_id_format, self.id_width)
        if record is not None:
            record.status = status if respond else -1
            record.message_id = message_id
            if self.record:
                self.submits.append(record)
            if self.track_duplicates and respond and status == ESME_ROK:
                self._keys[record.key] += 1
        if not respond:
            stats.unanswered += 1
            return
        stats.responses[status] += 1
        wants_receipt = (
            status == ESME_ROK
            and self.receipts
            and record is not None
            and record.registered_delivery & 0x01
        )
        if wants_receipt and self.receipts_before_resp:
            assert record is not None
            self._receipt(session, record, number, immediate=True)
        if message_id is None:
            session.send(_HEADER.pack(16, SUBMIT_SM | 0x80000000, status, seq))
        else:
            stats.accepted += 1
            body = message_id.encode("ascii") + b"\x00"
            session.send(_HEADER.pack(16 + len(body), SUBMIT_SM | 0x80000000, status, seq) + body)
        if wants_receipt and not self.receipts_before_resp:
            assert record is not None
            self._receipt(session, record, number, immediate=False)

    def _receipt(
        self, session: _Session, record: SubmitRecord, number: int, *, immediate: bool
    ) -> None:
        stat = self.receipt_stat_for(record) if self.receipt_stat_for else self.receipt_stat
        rid = _format_id(number, self.receipt_id_format, self.id_width).encode("ascii")
        self._refresh_suffix(stat)
        body = self._receipt_body(
            rid,
            record.source.encode("latin-1"),
            record.source_ton,
            record.destination.encode("latin-1"),
            record.dest_ton,
        )
        copies = 2 if self.duplicate_receipts else 1
        for _ in range(copies):
            pending = _Pending(session.system_id, body, receipt=True, prefer=session)
            if self.hold_receipts:
                self._held.append(pending)
            elif immediate or self.receipt_delay <= 0:
                self._dispatch(pending)
            else:
                self._batch.append(pending)

    def _begin_pass(self) -> bool:
        """Start a read pass: True when its submits may take `_plain_submit`.

        Plain: nothing is recorded or counted per submit and no knob answers a submit
        otherwise than ESME_ROK with the next id, or sends its receipt otherwise than once
        after the delay (or at once without one) with `receipt_stat`.
        """
        if (
            self.record
            or self.track_duplicates
            or self.error_for
            or self.no_response_for
            or self.no_response_every
            or self.throttle_every
            or self.error_every
            or (self.nack_seq0_after and not self._nacked)
            or self.receipt_stat_for is not None
            or self.receipts_before_resp
            or self.duplicate_receipts
            or self.hold_receipts
        ):
            return False
        self._plain_ids = (
            self.resp_id_format == "dec" and self.receipt_id_format == "dec" and not self.id_width
        )
        if self.receipts:
            self._refresh_suffix(self.receipt_stat)
        return True

    def _end_pass(self, tried: int, answered: int) -> None:
        """End a read pass: count its plain submits (`tried`: read, as `submits`; `answered`:
        ESME_ROK), schedule its receipts as one group."""
        if tried:
            stats = self.stats
            stats.submits += tried
            stats.accepted += answered
            stats.responses[ESME_ROK] += answered
            now = time.perf_counter()
            if stats.first_submit_at is None:
                stats.first_submit_at = now
            stats.last_submit_at = now
        if self._batch:
            self._due.append((time.monotonic() + self.receipt_delay, self._batch))
            self._batch = []
            self._wake.set()

    def _plain_submit(self, session: _Session, seq: int, buf: bytearray, offset: int) -> None:
        """A submit_sm on the fast path (`_begin_pass`): the response, and its receipt if
        registered_delivery asks for one; only the addresses are parsed.

        The counters are the pass's (`_end_pass`); the bytes are `_submit`'s and `_receipt`'s.
        As there, the submit is read before anything is answered or numbered: a submit whose
        fields cannot be read raises out of the read pass and gets nothing.
        """
        wants_receipt = False
        if self.receipts:
            # service_type, source (ton, npi, addr), destination, esm_class, protocol_id,
            # priority_flag, schedule_delivery_time, validity_period, registered_delivery.
            index = buf.index
            end = index(0, offset)
            source_ton = buf[end + 1]
            start = end + 3
            end = index(0, start)
            source = bytes(buf[start:end])
            dest_ton = buf[end + 1]
            start = end + 3
            end = index(0, start)
            destination = bytes(buf[start:end])
            end = index(0, index(0, end + 4) + 1)
            wants_receipt = bool(buf[end + 1] & 0x01)
        number = self._next_id
        self._next_id = number + 1
        if self._plain_ids:
            rid = str(number).encode()
            resp_id = rid
        else:
            resp_id = _format_id(number, self.resp_id_format, self.id_width).encode()
            rid = _format_id(number, self.receipt_id_format, self.id_width).encode()
        session.out.append(
            _HEADER.pack(17 + len(resp_id), _SUBMIT_SM_RESP, ESME_ROK, seq) + resp_id + b"\x00"
        )
        if not wants_receipt:
            return
        body = self._receipt_body(rid, source, source_ton, destination, dest_ton)
        pending = _Pending(session.system_id, body, True, session)
        if self.receipt_delay <= 0:
            self._dispatch(pending)
        else:
            self._batch.append(pending)

    def _refresh_suffix(self, stat: str) -> None:
        """The receipt text after ``id:...`` and the message_state TLV for `stat`, now.

        The dates have minute resolution, so the text is built once per minute and stat.
        """
        minute = int(time.time() // 60)
        if self._suffix_key == (minute, stat):
            return
        stamp = datetime.fromtimestamp(minute * 60, UTC).strftime("%y%m%d%H%M")
        ok = stat == "DELIVRD"
        self._suffix = (
            f"sub:001 dlvrd:{'001' if ok else '000'} submit date:{stamp} "
            f"done date:{stamp} stat:{stat} err:{'000' if ok else '001'} text:"
        ).encode("ascii")
        self._state_tlv = struct.pack(">HHB", TAG_MESSAGE_STATE, 1, _MESSAGE_STATE.get(stat, 7))
        self._suffix_key = (minute, stat)

    def _receipt_body(
        self, rid: bytes, source: bytes, source_ton: int, destination: bytes, dest_ton: int
    ) -> bytes:
        """A receipt's deliver_sm body (`_sm_body`'s bytes) for a submit from `source` to
        `destination` (the receipt goes the other way), with the current `_refresh_suffix`."""
        n = len(rid)
        if self.receipt_text_id and self.receipt_tlv and n < 255:  # the usual receipt: one format
            suffix = self._suffix
            return _RECEIPT_FORMAT % (
                dest_ton,
                destination,
                source_ton,
                source,
                4 + n + len(suffix),
                rid,
                suffix,
                n + 1,
                rid,
                self._state_tlv,
            )
        text = b"id:" + rid + b" " + self._suffix if self.receipt_text_id else self._suffix
        tlvs = (
            _RID_TLV_TAG + _U16.pack(len(rid) + 1) + rid + b"\x00" + self._state_tlv
            if self.receipt_tlv
            else b""
        )
        return b"".join(
            (
                b"\x00",
                bytes((dest_ton, 1)),
                destination,
                b"\x00",
                bytes((source_ton, 1)),
                source,
                b"\x00",
                _RECEIPT_MIDDLE,
                bytes((len(text),)),
                text,
                tlvs,
            )
        )

    def _receiver_for(
        self, system_id: str | None, prefer: _Session | None = None
    ) -> _Session | None:
        if prefer is not None and prefer.can_receive:
            return prefer
        for session in self._sessions:
            if session.can_receive and (system_id is None or session.system_id == system_id):
                return session
        return None

    def _dispatch(self, pending: _Pending) -> None:
        session = self._receiver_for(pending.system_id, pending.prefer)
        pending.prefer = None
        if session is None:
            self._retry.setdefault(pending.system_id, deque()).append(pending)
            return
        session.deliver(pending)
        if pending.receipt:
            self.stats.receipts_sent += 1

    def _lost(self, session: _Session) -> None:
        if not self.redeliver_unacked:
            return
        retry = self._retry.setdefault(session.system_id, deque())
        for pending in session.unacked.values():
            pending.prefer = None
            retry.append(pending)
        session.unacked.clear()

    def _redeliver(self, session: _Session) -> None:
        retry = self._retry.get(session.system_id)
        anonymous = self._retry.get("")
        for queue in (retry, anonymous):
            while queue:
                pending = queue.popleft()
                pending.system_id = session.system_id
                session.deliver(pending)
                self.stats.redelivered += 1
                if pending.receipt:
                    self.stats.receipts_sent += 1

    async def _tick(self) -> None:
        while True:
            if not self._due:
                self._wake.clear()
                await self._wake.wait()
                continue
            due_at = self._due[0][0]
            wait = due_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.05))
                continue
            now = time.monotonic()
            dispatch = self._dispatch
            while self._due and self._due[0][0] <= now:
                for pending in self._due.popleft()[1]:
                    dispatch(pending)
            for session in list(self._sessions):
                if session.out:
                    session.flush()
            await asyncio.sleep(0)


def _parse_submit(
    session: _Session, seq: int, buf: bytearray, offset: int, end: int
) -> SubmitRecord:
    _service, offset = _cstr(buf, offset)
    source_ton = buf[offset]
    offset += 2
    source, offset = _cstr(buf, offset)
    dest_ton = buf[offset]
    offset += 2
    destination, offset = _cstr(buf, offset)
    esm_class = buf[offset]
    offset += 3
    _schedule, offset = _cstr(buf, offset)
    validity, offset = _cstr(buf, offset)
    registered = buf[offset]
    data_coding = buf[offset + 2]
    sm_length = buf[offset + 4]
    offset += 5
    short_message = bytes(buf[offset : offset + sm_length])
    offset += sm_length
    tlvs: dict[int, bytes] = {}
    while offset + 4 <= end:
        tag, length = struct.unpack_from(">HH", buf, offset)
        offset += 4
        tlvs[tag] = bytes(buf[offset : offset + length])
        offset += length
    return SubmitRecord(
        session=session.number,
        system_id=session.system_id,
        sequence_number=seq,
        source=source,
        source_ton=source_ton,
        destination=destination,
        dest_ton=dest_ton,
        esm_class=esm_class,
        data_coding=data_coding,
        registered_delivery=registered,
        short_message=short_message,
        tlvs=tlvs,
        status=0,
        message_id=None,
        validity_period=validity,
    )


def _sm_body(
    source: str,
    source_ton: int,
    destination: str,
    dest_ton: int,
    esm_class: int,
    data_coding: int,
    short_message: bytes,
    tlvs: dict[int, bytes],
) -> bytes:
    """A deliver_sm body (SMPP 3.4 §4.6.1)."""
    parts = [
        b"\x00",  # service_type
        bytes([source_ton, 1]),
        source.encode("latin-1") + b"\x00",
        bytes([dest_ton, 1]),
        destination.encode("latin-1") + b"\x00",
        bytes([esm_class, 0, 0]),
        b"\x00\x00",  # schedule_delivery_time, validity_period
        bytes([0, 0, data_coding, 0, len(short_message)]),
        short_message,
    ]
    for tag, value in tlvs.items():
        parts.append(struct.pack(">HH", tag, len(value)) + value)
    return b"".join(parts)


@contextlib.contextmanager
def serve_in_thread(**kwargs: object) -> Iterator[FastSmsc]:
    """Run a `FastSmsc` on its own event loop in a background thread (for synchronous tests).

    Args:
        **kwargs: Passed to `FastSmsc`.

    Yields:
        The started server (read `port`; its counters are updated from the other thread).
    """
    started = threading.Event()
    holder: dict[str, object] = {}
    stop_event: list[asyncio.Event] = []
    loop_holder: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        smsc = FastSmsc(**kwargs)  # type: ignore[arg-type]
        stop = asyncio.Event()
        stop_event.append(stop)
        loop_holder.append(asyncio.get_running_loop())
        async with smsc:
            holder["smsc"] = smsc
            started.set()
            await stop.wait()

    def runner() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the caller below
            holder["error"] = exc
            started.set()

    thread = threading.Thread(target=runner, name="fast-smsc", daemon=True)
    thread.start()
    started.wait(10)
    if "error" in holder:
        raise RuntimeError(f"FastSmsc failed to start: {holder['error']!r}")
    smsc = holder["smsc"]
    assert isinstance(smsc, FastSmsc)
    try:
        yield smsc
    finally:
        loop_holder[0].call_soon_threadsafe(stop_event[0].set)
        thread.join(10)


# -- script -------------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.fast_smsc", description=__doc__.split("\n")[0]
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2775)
    p.add_argument("--password", default=None)
    p.add_argument("--receipts", action="store_true", help="send delivery receipts")
    p.add_argument("--receipt-delay", type=float, default=0.0, metavar="S")
    p.add_argument("--receipt-stat", default="DELIVRD")
    p.add_argument("--receipts-before-resp", action="store_true")
    p.add_argument("--resp-id-format", choices=["dec", "hex"], default="dec")
    p.add_argument("--receipt-id-format", choices=["dec", "hex"], default="dec")
    p.add_argument("--throttle-every", type=int, default=0, metavar="N")
    p.add_argument("--error-every", type=int, default=0, metavar="N")
    p.add_argument("--error-status", type=lambda v: int(v, 0), default=ESME_RSYSERR)
    p.add_argument("--no-response-every", type=int, default=0, metavar="N")
    p.add_argument("--record", action="store_true", help="record every submit (memory grows)")
    p.add_argument("--stats-every", type=float, default=0.0, metavar="S", help="print counters")
    p.add_argument("--no-uvloop", action="store_true")
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    smsc = FastSmsc(
        host=args.host,
        port=args.port,
        password=args.password,
        receipts=args.receipts,
        receipt_delay=args.receipt_delay,
        receipt_stat=args.receipt_stat,
        receipts_before_resp=args.receipts_before_resp,
        resp_id_format=args.resp_id_format,
        receipt_id_format=args.receipt_id_format,
        throttle_every=args.throttle_every,
        error_every=args.error_every,
        error_status=args.error_status,
        no_response_every=args.no_response_every,
        record=args.record,
        track_duplicates=args.record,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with smsc:
        print(f"fast_smsc listening on {args.host}:{smsc.port}", flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.stats_every or None):
                    await stop.wait()
            if args.stats_every:
                s = smsc.stats
                print(
                    f"binds={s.binds} submits={s.submits} accepted={s.accepted} "
                    f"receipts_sent={s.receipts_sent} acked={s.receipts_acked}",
                    flush=True,
                )
    s = smsc.stats
    print(
        f"fast_smsc stopped: submits={s.submits} accepted={s.accepted} "
        f"receipts_sent={s.receipts_sent} receipts_acked={s.receipts_acked}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM."""
    args = _parse_args(argv)
    if not args.no_uvloop:
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - optional speed-up
            pass
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
