"""Message store and message semantics of the simulated SMSC (pure, in memory, bounded).

What lives here, all without I/O, clocks or global randomness (times are arguments):

* ``IdGenerator``: message ids as decimal, zero-padded decimal, hex or UUID (seeded).
* SMPP times (3.4 §7.1): ``parse_smpp_time`` / ``format_smpp_time``.
* The semantic checks the codec leaves to the server (SMPP-ERRORS rows 18-19):
  ``check_message`` and ``check_address``.
* ``MessageStore``: the messages accepted, their state for query_sm, cancel_sm and replace_sm.
* Receipts and MO as deliver_sm PDUs: ``wants_receipt``, ``receipt_pdu``, ``mo_pdus``.
* ``DeliveryQueues``: deliver_sm waiting for a receiver session, per account, with redelivery.

Semantic checks, in this order (the first failure answers; SMPP-ERRORS row 18, 19)::

    source_addr_ton not 0..6                 ESME_RINVSRCTON 0x48
    source_addr_npi not a 3.4 NPI            ESME_RINVSRCNPI 0x49
    dest_addr_ton not 0..6                   ESME_RINVDSTTON 0x50
    dest_addr_npi not a 3.4 NPI              ESME_RINVDSTNPI 0x51
    destination_addr empty                   ESME_RINVDSTADR 0x0B
    esm_class message type not 0/0x08/0x10   ESME_RINVESMCLASS 0x43 (0x04/0x20 are SMSC-only)
    priority_flag > 3                        ESME_RINVPRTFLG 0x06
    registered_delivery reserved bits 5-7    ESME_RINVREGDLVFLG 0x07
    replace_if_present_flag > 1              ESME_RINVREPFLAG 0x54
    data_coding reserved 0x0B, 0x0C, 0x0F    ESME_RSUBMITFAIL 0x45 (3.4 peer) / ESME_RINVDCS
                                             0x104 (peer bound with interface_version >= 0x50)
    schedule_delivery_time unreadable        ESME_RINVSCHED 0x61
    validity_period unreadable or past       ESME_RINVEXPIRY 0x62

Invariants of this module:

* Memory is bounded. The store keeps at most ``capacity`` messages, forgetting final ones oldest
  first; messages not yet final are bounded by ``max_pending`` (the server answers
  ESME_RMSGQFUL before adding one more). Each account's delivery queue holds at most its
  ``max_queued_deliveries``; a push beyond that drops the oldest and says so.
* A message reaches a final state once; cancel_sm and replace_sm act only on messages that are
  not final (else ESME_RCANCELFAIL / ESME_RREPLACEFAIL). A cancelled message never gets a receipt.
* The store never decides a fate: states change only through ``finish`` (the handler's receipt
  orders) and ``cancel``.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Final, Literal

from simulator.config import DeliveryConfig, MessageIdConfig, StoreConfig
from simulator.smpp.constants import CommandStatus, MessageState, Tag
from simulator.smpp.pdu import DeliverSm, Tlv, tlv_u8, tlv_u16
from sms.alphabet import Encoding, EncodingError, decode, encoding_for_data_coding
from sms.receipt import Receipt, ReceiptError, format_receipt
from sms.segments import Method, Sar, plan
from sms.udh import Concat, UdhError, split_udh

__all__ = [
    "ESM_CLASS_INTERMEDIATE",
    "ESM_CLASS_RECEIPT",
    "FINAL_STATES",
    "CheckedTimes",
    "Delivery",
    "DeliveryQueues",
    "IdGenerator",
    "MessageRecord",
    "MessageStore",
    "check_address",
    "check_message",
    "format_smpp_time",
    "mo_pdus",
    "parse_smpp_time",
    "preview_text",
    "receipt_pdu",
    "split_user_data",
    "wants_receipt",
]

_S = CommandStatus

#: esm_class of an SMSC delivery receipt (SMPP 3.4 §5.2.12, message type 0001).
ESM_CLASS_RECEIPT: Final[int] = 0x04
#: esm_class of an intermediate delivery notification (message type 1000).
ESM_CLASS_INTERMEDIATE: Final[int] = 0x20
_UDHI: Final[int] = 0x40
_NETWORK_TYPE_GSM: Final[int] = 3
# Enum members read once for receipt_pdu (one per receipt; a class lookup costs ~60 ns on 3.11).
_DELIVERED: Final = MessageState.DELIVERED
_RECEIPTED_MESSAGE_ID: Final = Tag.RECEIPTED_MESSAGE_ID
_MESSAGE_STATE: Final = Tag.MESSAGE_STATE
#: bytes((i,)) for every octet value, made once.
_OCTETS: Final[tuple[bytes, ...]] = tuple(bytes((i,)) for i in range(256))

FINAL_STATES: Final[frozenset[int]] = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.EXPIRED,
        MessageState.DELETED,
        MessageState.UNDELIVERABLE,
        MessageState.UNKNOWN,
        MessageState.REJECTED,
    }
)
"""States a message leaves no more (ACCEPTED and ENROUTE are not final)."""

# SMPP 3.4 §5.2.5 TON 0-6; §5.2.6 NPI values.
_VALID_TON: Final[frozenset[int]] = frozenset(range(7))
_VALID_NPI: Final[frozenset[int]] = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})
# §5.2.12 bits 5-2 for an ESME -> SMSC message: default, ESME delivery ack, manual/user ack.
_ESME_MESSAGE_TYPES: Final[frozenset[int]] = frozenset({0x00, 0x08, 0x10})
# SMPP-ERRORS row 19.
_RESERVED_DATA_CODING: Final[frozenset[int]] = frozenset({0x0B, 0x0C, 0x0F})


# --------------------------------------------------------------------------------------------
# Message ids
# --------------------------------------------------------------------------------------------


class IdGenerator:
    """Makes message ids in the configured format; reproducible (uuid ids come from a seed)."""

    __slots__ = ("_config", "_counter", "_fmt", "_rng")

    def __init__(self, config: MessageIdConfig) -> None:
        """Start the sequence at ``config.start``.

        Args:
            config: Id format settings.
        """
        self._config = config
        self._counter = itertools.count(config.start)
        self._rng = random.Random(config.seed)
        width = config.width
        if config.format == "hex":
            self._fmt = f"{config.prefix}{{:0{width}{'X' if config.uppercase else 'x'}}}"
        elif config.format == "padded_decimal":
            self._fmt = f"{config.prefix}{{:0{width}d}}"
        else:
            self._fmt = f"{config.prefix}{{}}"

    def __call__(self) -> str:
        """Return the next id."""
        if self._config.format == "uuid":
            text = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            return self._config.prefix + (text.upper() if self._config.uppercase else text)
        return self._fmt.format(next(self._counter))


# --------------------------------------------------------------------------------------------
# SMPP times (3.4 §7.1)
# --------------------------------------------------------------------------------------------


def parse_smpp_time(value: str, now: float) -> float | None:
    """Read an SMPP absolute or relative time.

    ``YYMMDDhhmmsstnnp``: p is ``+``/``-`` (absolute, nn quarter hours from UTC) or ``R``
    (relative to ``now``; years count 365 days and months 30).

    Args:
        value: "" or a 16-character time.
        now: Epoch seconds that a relative time counts from.

    Returns:
        Epoch seconds, or None for "".

    Raises:
        ValueError: The text is not a valid SMPP time.
    """
    if not value:
        return None
    if len(value) != 16 or not value[:15].isdigit() or not value.isascii():
        raise ValueError(f"not an SMPP time: {value!r}")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    tenths = int(value[12])
    quarters = int(value[13:15])
    kind = value[15]
    if kind == "R":
        seconds = ((yy * 365 + mo * 30 + dd) * 24 + hh) * 3600 + mi * 60 + ss
        return now + seconds
    if kind not in "+-" or quarters > 48:
        raise ValueError(f"not an SMPP time: {value!r}")
    offset = timedelta(minutes=15 * quarters) * (1 if kind == "+" else -1)
    moment = datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=timezone(offset))
    return moment.timestamp()


def format_smpp_time(epoch: float, tz: tzinfo = UTC) -> str:
    """Write an SMPP absolute time (query_sm_resp final_date).

    Args:
        epoch: Epoch seconds.
        tz: Zone to write it in (its offset becomes nnp).

    Returns:
        16 characters, e.g. ``260101120000036+`` for 12:00 at UTC+9.
    """
    moment = datetime.fromtimestamp(epoch, tz)
    offset = moment.utcoffset() or timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    sign = "-" if offset.total_seconds() < 0 else "+"
    return f"{moment:%y%m%d%H%M%S}{moment.microsecond // 100_000}{quarters:02d}{sign}"


# --------------------------------------------------------------------------------------------
# Semantic checks (SMPP-ERRORS rows 18, 19)
# --------------------------------------------------------------------------------------------


def check_address(ton: int, npi: int, address: str, *, source: bool) -> int:
    """Check one address's TON and NPI (and that a destination is not empty).

    Args:
        ton: Type of number.
        npi: Numbering plan indicator.
        address: The address.
        source: True for source_addr, False for a destination.

    Returns:
        0, or the command_status to answer with.
    """
    if ton not in _VALID_TON:
        return _S.ESME_RINVSRCTON if source else _S.ESME_RINVDSTTON
    if npi not in _VALID_NPI:
        return _S.ESME_RINVSRCNPI if source else _S.ESME_RINVDSTNPI
    if not source and not address:
        return _S.ESME_RINVDSTADR
    return 0


@dataclass(slots=True)
class CheckedTimes:
    """The times a message asked for, resolved to epoch seconds (None = not given)."""

    schedule_at: float | None = None
    """schedule_delivery_time."""
    validity_at: float | None = None
    """validity_period."""


def check_message(
    *,
    esm_class: int,
    registered_delivery: int,
    data_coding: int,
    priority_flag: int = 0,
    replace_if_present_flag: int = 0,
    schedule_delivery_time: str = "",
    validity_period: str = "",
    smpp5: bool,
    now: float,
    times: CheckedTimes | None = None,
) -> int:
    """Check the message fields of submit_sm, submit_multi or data_sm (addresses excluded).

    Args:
        esm_class: esm_class.
        registered_delivery: registered_delivery.
        data_coding: data_coding.
        priority_flag: priority_flag (absent from data_sm: 0).
        replace_if_present_flag: replace_if_present_flag (absent from data_sm: 0).
        schedule_delivery_time: As received ("" when absent).
        validity_period: As received ("" when absent).
        smpp5: The peer bound with interface_version >= 0x50 (reserved data_coding ->
            ESME_RINVDCS instead of ESME_RSUBMITFAIL).
        now: Simulated epoch seconds (relative times count from it).
        times: Filled with the resolved schedule and validity when given.

    Returns:
        0, or the command_status to answer with.
    """
    if (esm_class & 0x3C) not in _ESME_MESSAGE_TYPES:
        return _S.ESME_RINVESMCLASS
    if priority_flag > 3:
        return _S.ESME_RINVPRTFLG
    if registered_delivery & 0xE0:
        return _S.ESME_RINVREGDLVFLG
    if replace_if_present_flag > 1:
        return _S.ESME_RINVREPFLAG
    if data_coding in _RESERVED_DATA_CODING:
        return _S.ESME_RINVDCS if smpp5 else _S.ESME_RSUBMITFAIL
    if schedule_delivery_time or validity_period:
        try:
            schedule_at = parse_smpp_time(schedule_delivery_time, now)
        except (ValueError, OverflowError):
            return _S.ESME_RINVSCHED
        try:
            validity_at = parse_smpp_time(validity_period, now)
        except (ValueError, OverflowError):
            return _S.ESME_RINVEXPIRY
        if validity_at is not None and (
            validity_at <= now or (schedule_at is not None and validity_at <= schedule_at)
        ):
            return _S.ESME_RINVEXPIRY
        if times is not None:
            times.schedule_at = schedule_at
            times.validity_at = validity_at
    return 0


# --------------------------------------------------------------------------------------------
# User data
# --------------------------------------------------------------------------------------------


def split_user_data(
    data: bytes, esm_class: int, tlvs: tuple[Tlv, ...]
) -> tuple[bytes, bytes, Concat | Sar | None]:
    """Split user data into UDH and body and find the part's place in a long message.

    Args:
        data: short_message (or the message_payload value).
        esm_class: esm_class (0x40 = a UDH leads the data).
        tlvs: The PDU's TLVs (sar_* give the place when there is no concatenation UDH).

    Returns:
        (udh, body, place): place is a UDH ``Concat``, a ``Sar`` or None. A malformed UDH is
        left in the body (the handler sees the octets as they came).
    """
    udh = b""
    body = data
    place: Concat | Sar | None = None
    if esm_class & _UDHI and data:
        try:
            header, body = split_udh(data, strict=False)
        except UdhError:
            body = data
        else:
            udh = data[: len(data) - len(body)]
            place = header.concat
    if place is None and tlvs:
        ref = total = seq = None
        for tag, value in tlvs:
            if tag == Tag.SAR_MSG_REF_NUM:
                ref = int.from_bytes(value, "big")
            elif tag == Tag.SAR_TOTAL_SEGMENTS:
                total = int.from_bytes(value, "big")
            elif tag == Tag.SAR_SEGMENT_SEQNUM:
                seq = int.from_bytes(value, "big")
        if ref is not None and total is not None and seq is not None:
            try:
                place = Sar(ref, total, seq)
            except ValueError:
                place = None
    return udh, body, place


# Octets that are not printable ASCII, or that GSM 03.38 maps to another character.
_NOT_PLAIN: Final[bytes] = bytes(range(0x20)) + b"$@[\\]^_`{|}~" + bytes(range(0x7F, 0x100))


def preview_text(body: bytes, data_coding: int, limit: int = 20) -> str:
    """The first characters of a message for a receipt's ``text:`` field, as printable ASCII.

    Args:
        body: User data without UDH.
        data_coding: Its data_coding.
        limit: Characters kept.

    Returns:
        The text; characters outside printable ASCII become ``?`` (the receipt itself is sent
        with data_coding 0).
    """
    head = body[:limit]
    if data_coding in (0, 1, 3) and len(head.translate(None, _NOT_PLAIN)) == len(head):
        # Printable ASCII that reads the same in GSM-7 (unpacked), IA5 and Latin-1.
        return head.decode("ascii")
    chunk = body[: limit * 2]
    try:
        encoding = encoding_for_data_coding(data_coding)
        text = decode(chunk, encoding, strict=False)
    except (EncodingError, ValueError):
        text = chunk.decode("latin-1")
    text = text[:limit]
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c <= "~" else "?" for c in text)


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class MessageRecord:
    """One accepted message (one submit_sm / data_sm, or one submit_multi for all its SMEs)."""

    message_id: str
    """The id returned in the response."""
    account: str
    """system_id of the session that submitted it."""
    service_type: str
    """service_type (matched by cancel_sm and replace_if_present_flag)."""
    source_addr_ton: int
    """TON of source_addr."""
    source_addr_npi: int
    """NPI of source_addr."""
    source_addr: str
    """source_addr."""
    dest_addr_ton: int
    """TON of the (first) destination."""
    dest_addr_npi: int
    """NPI of the (first) destination."""
    destination_addr: str
    """The (first) destination."""
    esm_class: int
    """esm_class as received."""
    registered_delivery: int
    """registered_delivery (replace_sm may change it)."""
    data_coding: int
    """data_coding."""
    body: bytes
    """User data without UDH (replace_sm may change it)."""
    submitted_at: float
    """Simulated epoch seconds of acceptance."""
    schedule_at: float | None = None
    """schedule_delivery_time, resolved."""
    validity_at: float | None = None
    """validity_period, resolved."""
    part: int | None = None
    """Part seq when concatenated (UDH or SAR)."""
    total: int | None = None
    """Parts in the message when concatenated."""
    destinations: int = 1
    """SMEs the message went to (submit_multi: more than one)."""
    finals: int = 0
    """Destinations that reached a final state."""
    state: int = MessageState.ENROUTE
    """message_state (3.4 §5.2.28)."""
    final_at: float | None = None
    """Simulated epoch seconds of the final state."""
    error_code: int = 0
    """Network error code of a failed delivery (query_sm_resp error_code)."""
    cancelled: bool = False
    """Ended by cancel_sm (no receipt is sent)."""

    @property
    def final(self) -> bool:
        """True once the message reached a final state."""
        return self.final_at is not None


class MessageStore:
    """The accepted messages, bounded (see the module docstring)."""

    def __init__(self, config: StoreConfig) -> None:
        """Create an empty store.

        Args:
            config: Capacity settings.
        """
        self._capacity = config.capacity
        self._max_pending = config.max_pending
        self._records: dict[str, MessageRecord] = {}
        self._finished: deque[str] = deque()
        self._pending: dict[str, dict[str, MessageRecord]] = {}
        self._pending_total = 0
        self.evicted = 0
        """Final messages forgotten to respect the capacity."""

    def __len__(self) -> int:
        """Messages remembered."""
        return len(self._records)

    def __contains__(self, message_id: object) -> bool:
        """Whether a message id is remembered."""
        return message_id in self._records

    @property
    def pending(self) -> int:
        """Messages not yet final over all accounts."""
        return self._pending_total

    @property
    def full(self) -> bool:
        """True when one more pending message would exceed ``max_pending``."""
        return self._pending_total >= self._max_pending

    def pending_for(self, account: str) -> int:
        """Messages of one account not yet final.

        Args:
            account: system_id.

        Returns:
            The count.
        """
        pending = self._pending.get(account)
        return len(pending) if pending is not None else 0

    def get(self, message_id: str) -> MessageRecord | None:
        """Look a message up.

        Args:
            message_id: Its id.

        Returns:
            The record, or None if unknown (or forgotten).
        """
        return self._records.get(message_id)

    def add(self, record: MessageRecord) -> None:
        """Remember an accepted message (the caller checked ``full`` and the account's quota).

        Args:
            record: The message; its id must be new.
        """
        old = self._records.get(record.message_id)
        if old is not None and not old.final:
            self._forget_pending(old)
        self._records[record.message_id] = record
        pending = self._pending.get(record.account)
        if pending is None:
            pending = self._pending[record.account] = {}
        pending[record.message_id] = record
        self._pending_total += 1
        if len(self._records) > self._capacity:
            self._evict()

    def _forget_pending(self, record: MessageRecord) -> None:
        pending = self._pending.get(record.account)
        if pending is not None and pending.pop(record.message_id, None) is not None:
            self._pending_total -= 1
            if not pending:
                del self._pending[record.account]

    def _evict(self) -> None:
        records = self._records
        finished = self._finished
        while len(records) > self._capacity and finished:
            message_id = finished.popleft()
            record = records.get(message_id)
            if record is not None and record.final:
                del records[message_id]
                self.evicted += 1

    def _make_final(self, record: MessageRecord, state: int, error_code: int, at: float) -> None:
        record.state = state
        record.error_code = error_code
        record.final_at = at
        self._forget_pending(record)
        self._finished.append(record.message_id)
        if len(self._records) > self._capacity:
            self._evict()

    def finish(
        self, message_id: str, state: int, error_code: int, at: float
    ) -> tuple[MessageRecord | None, bool]:
        """Apply a destination's outcome (a receipt order from the handler).

        A non-final ``state`` (ENROUTE, ACCEPTED) changes nothing. A final one counts one
        destination; the message is final once every destination is, with DELIVERED only if
        all were delivered (else the first failure's state).

        Args:
            message_id: The message.
            state: Its new message_state.
            error_code: Network error code (clamped to 0..255 for query_sm_resp).
            at: Simulated epoch seconds.

        Returns:
            (record or None if unknown, whether the message became final now).
        """
        record = self._records.get(message_id)
        if record is None or record.final or state not in FINAL_STATES:
            return record, False
        record.finals += 1
        if state != MessageState.DELIVERED and record.state not in FINAL_STATES:
            # The first failure among the destinations names the message's final state.
            record.state = state
            record.error_code = min(max(error_code, 0), 255)
        if record.finals < record.destinations:
            return record, False
        final_state = record.state if record.state in FINAL_STATES else state
        self._make_final(record, final_state, record.error_code, at)
        return record, True

    def query(
        self, message_id: str, account: str, source_addr: str
    ) -> tuple[int, MessageRecord | None]:
        """Answer query_sm (3.4 §4.8).

        Args:
            message_id: The id asked about.
            account: system_id of the asking session (accounts see only their own messages).
            source_addr: source_addr of the query ("" = not checked).

        Returns:
            (status, record): ESME_RINVMSGID for an unknown id or another account's,
            ESME_RQUERYFAIL when source_addr does not match, else 0 and the record.
        """
        record = self._records.get(message_id)
        if record is None or record.account != account:
            return _S.ESME_RINVMSGID, None
        if source_addr and source_addr != record.source_addr:
            return _S.ESME_RQUERYFAIL, None
        return 0, record

    def cancel(
        self,
        account: str,
        message_id: str,
        *,
        service_type: str,
        source_addr: str,
        destination_addr: str,
        now: float,
    ) -> tuple[int, list[MessageRecord]]:
        """Answer cancel_sm (3.4 §4.9): by id, or every pending message between two addresses.

        Args:
            account: system_id of the session.
            message_id: The id, or "" to cancel by addresses (and service_type when given).
            service_type: service_type filter for the address form.
            source_addr: Must match the original's when given.
            destination_addr: Destination filter for the address form.
            now: Simulated epoch seconds.

        Returns:
            (status, cancelled records): ESME_RINVMSGID for an unknown id; ESME_RCANCELFAIL when
            the message is final, the source does not match, or nothing matched.
        """
        if message_id:
            record = self._records.get(message_id)
            if record is None or record.account != account:
                return _S.ESME_RINVMSGID, []
            if record.final or (source_addr and source_addr != record.source_addr):
                return _S.ESME_RCANCELFAIL, []
            targets = [record]
        else:
            pending = self._pending.get(account, {})
            targets = [
                r
                for r in pending.values()
                if (not source_addr or r.source_addr == source_addr)
                and r.destination_addr == destination_addr
                and (not service_type or r.service_type == service_type)
            ]
            if not targets or not destination_addr:
                return _S.ESME_RCANCELFAIL, []
        for record in targets:
            record.cancelled = True
            self._make_final(record, MessageState.DELETED, 0, now)
        return 0, targets

    def replace(
        self,
        account: str,
        message_id: str,
        *,
        source_addr: str,
        body: bytes,
        registered_delivery: int,
        schedule_at: float | None,
        validity_at: float | None,
    ) -> int:
        """Answer replace_sm (3.4 §4.10).

        Args:
            account: system_id of the session.
            message_id: The message to replace.
            source_addr: Must match the original's when given.
            body: The new user data.
            registered_delivery: The new receipt request.
            schedule_at: New schedule (None keeps the old one).
            validity_at: New validity (None keeps the old one).

        Returns:
            0; ESME_RINVMSGID for an unknown id; ESME_RREPLACEFAIL when the message is final or
            the source does not match.
        """
        record = self._records.get(message_id)
        if record is None or record.account != account:
            return _S.ESME_RINVMSGID
        if record.final or (source_addr and source_addr != record.source_addr):
            return _S.ESME_RREPLACEFAIL
        record.body = body
        record.registered_delivery = registered_delivery
        if schedule_at is not None:
            record.schedule_at = schedule_at
        if validity_at is not None:
            record.validity_at = validity_at
        return 0

    def replaceable(
        self, account: str, source_addr: str, destination_addr: str, service_type: str
    ) -> MessageRecord | None:
        """The pending message a submit_sm with replace_if_present_flag=1 replaces.

        Args:
            account: system_id.
            source_addr: source_addr of the new message.
            destination_addr: destination_addr of the new message.
            service_type: service_type of the new message.

        Returns:
            The oldest pending message with the same addresses and service_type, or None.
        """
        for record in self._pending.get(account, {}).values():
            if (
                record.source_addr == source_addr
                and record.destination_addr == destination_addr
                and record.service_type == service_type
            ):
                return record
        return None

    def supersede(self, record: MessageRecord, now: float) -> None:
        """End a pending message replaced by a new submit (replace_if_present_flag=1).

        Args:
            record: The old message.
            now: Simulated epoch seconds.
        """
        if not record.final:
            record.cancelled = True
            self._make_final(record, MessageState.DELETED, 0, now)

    def __iter__(self) -> Iterator[MessageRecord]:
        """Every remembered message, oldest first."""
        return iter(list(self._records.values()))


# --------------------------------------------------------------------------------------------
# Receipts and MO as deliver_sm
# --------------------------------------------------------------------------------------------


def wants_receipt(registered_delivery: int, state: int, *, intermediate: bool = False) -> bool:
    """Whether registered_delivery asks for a receipt in this state (3.4 §5.2.17).

    Bits 1-0: 0 none, 1 on success or failure, 2 on failure only, 3 on success only (SMPP 5.0;
    reserved in 3.4). Bit 4 asks for intermediate notifications.

    Args:
        registered_delivery: The message's registered_delivery.
        state: The state to report.
        intermediate: True for an intermediate notification (ENROUTE, esm_class 0x20).

    Returns:
        True if a receipt must be sent.
    """
    if intermediate:
        return bool(registered_delivery & 0x10)
    request = registered_delivery & 0x03
    if request == 1:
        return True
    if request == 2:
        return state != MessageState.DELIVERED
    if request == 3:
        return state == MessageState.DELIVERED
    return False


_SPACE: Final = re.compile(r"\s")


def _has_space(value: str) -> bool:
    return _SPACE.search(value) is not None


@lru_cache(maxsize=4096)
def _receipt_template(
    submitted: int, done: int, dlvrd: int, stat: str, err: int, tz: tzinfo, seconds: bool
) -> str:
    """The receipt text of ``format_receipt`` with NUL for the id and no ``text:`` value.

    The dates change once a minute (a second with ``seconds``), so thousands of receipts a
    second share a handful of templates; ``format_receipt`` stays the one writer of the layout.
    """
    return format_receipt(
        Receipt(
            message_id="\x00",
            sub=1,
            dlvrd=dlvrd,
            submit_date=datetime.fromtimestamp(submitted, UTC),
            done_date=datetime.fromtimestamp(done, UTC),
            stat=stat,
            err=f"{err:03d}",
        ),
        tz=tz,
        seconds=seconds,
    )


def receipt_pdu(
    record: MessageRecord,
    *,
    stat: str,
    state: int,
    err: int,
    done_at: float,
    receipt_id: str | None = None,
    text: str | None = None,
    intermediate: bool = False,
    handset: str | None = None,
    tz: tzinfo = UTC,
    seconds: bool = False,
) -> DeliverSm:
    """Build the deliver_sm of a delivery receipt (SMPP 3.4 Appendix B; DOMAIN §3, §6.5).

    Args:
        record: The message it reports.
        stat: The stat word (DELIVRD, UNDELIV, ...).
        state: message_state for the TLV.
        err: Network error code (``err:`` and network_error_code when non-zero).
        done_at: Simulated epoch seconds of the reported state.
        receipt_id: The id to write, when it differs from the message id.
        text: A complete receipt text to send instead of the standard one.
        intermediate: An intermediate notification (esm_class 0x20) instead of a receipt.
        handset: The destination reported (submit_multi), default the message's.
        tz: Zone of the dates.
        seconds: 12-digit dates.

    Returns:
        The deliver_sm (sequence_number 0: the session assigns one).
    """
    message_id = receipt_id or record.message_id
    if text is None:
        step = 1 if seconds else 60
        try:
            if not message_id or _has_space(message_id):
                raise ReceiptError(f"message id {message_id!r} cannot be written in a receipt")
            template = _receipt_template(
                int(record.submitted_at // step) * step,
                int(done_at // step) * step,
                1 if state == _DELIVERED else 0,
                stat,
                err,
                tz,
                seconds,
            )
            text = template.replace("\x00", message_id, 1) + preview_text(
                record.body, record.data_coding
            )
        except (ReceiptError, ValueError, OverflowError, OSError):
            text = f"id:{message_id} sub:001 dlvrd:000 stat:{stat} err:{err:03d} text:"
    # tlv_cstr and tlv_u8, written out (one receipt per message: the hot path).
    tlvs: tuple[Tlv, ...] = (
        (_RECEIPTED_MESSAGE_ID, message_id[:64].encode("latin-1") + b"\x00"),
        (_MESSAGE_STATE, _OCTETS[state & 0xFF]),
    )
    if err:
        code = bytes((_NETWORK_TYPE_GSM,)) + (err & 0xFFFF).to_bytes(2, "big")
        tlvs += ((Tag.NETWORK_ERROR_CODE, code),)
    return DeliverSm(
        source_addr_ton=record.dest_addr_ton,
        source_addr_npi=record.dest_addr_npi,
        source_addr=(handset or record.destination_addr)[:20],
        dest_addr_ton=record.source_addr_ton,
        dest_addr_npi=record.source_addr_npi,
        destination_addr=record.source_addr[:20],
        esm_class=ESM_CLASS_INTERMEDIATE if intermediate else ESM_CLASS_RECEIPT,
        short_message=text.encode("latin-1", "replace")[:254],
        tlvs=tlvs,
    )


def mo_pdus(
    source_addr: str,
    destination_addr: str,
    text: str,
    *,
    method: Method | str = Method.UDH8,
    reference: int = 0,
    profile: str = "generic",
    encoding: Encoding | None = None,
    source_ton: int = 1,
    source_npi: int = 1,
    dest_ton: int = 0,
    dest_npi: int = 0,
) -> list[DeliverSm]:
    """Build the deliver_sm parts of a mobile-originated message (``sms.segments.plan``).

    Args:
        source_addr: The handset.
        destination_addr: The number or short code it was sent to.
        text: The text.
        method: How a long text is split: udh8, udh16, sar, or payload.
        reference: Concatenation reference.
        profile: Segmentation profile name.
        encoding: Force an encoding (default: GSM-7 if possible, else UCS-2).
        source_ton: TON of the handset number.
        source_npi: NPI of the handset number.
        dest_ton: TON of the destination.
        dest_npi: NPI of the destination.

    Returns:
        One deliver_sm per part (sequence_number 0).

    Raises:
        sms.segments.SegmentationError: The text cannot be planned (too long, bad reference).
        sms.alphabet.UnencodableCharacter: A forced encoding cannot carry the text.
    """
    planned = plan(text, profile, method=Method(method), reference=reference, encoding=encoding)
    out: list[DeliverSm] = []
    for part in planned.parts:
        tlvs: list[Tlv] = []
        if part.sar is not None:
            tlvs += (
                tlv_u16(Tag.SAR_MSG_REF_NUM, part.sar.reference),
                tlv_u8(Tag.SAR_TOTAL_SEGMENTS, part.sar.total),
                tlv_u8(Tag.SAR_SEGMENT_SEQNUM, part.sar.seq),
            )
        payload = part.message_payload
        if payload is not None:
            tlvs.append((Tag.MESSAGE_PAYLOAD, payload))
        out.append(
            DeliverSm(
                source_addr_ton=source_ton,
                source_addr_npi=source_npi,
                source_addr=source_addr,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                destination_addr=destination_addr,
                esm_class=planned.esm_class,
                data_coding=planned.data_coding,
                short_message=part.short_message,
                tlvs=tuple(tlvs),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Delivery queues (deliver_sm towards the ESMEs)
# --------------------------------------------------------------------------------------------

DeliveryKind = Literal["receipt", "mo"]


@dataclass(eq=False, slots=True)
class Delivery:
    """One deliver_sm waiting for, or on its way to, a receiver session."""

    account: str
    """system_id whose receiver/transceiver sessions may take it."""
    pdu: DeliverSm
    """The PDU (its sequence_number is reset before every attempt)."""
    kind: DeliveryKind
    """A receipt or an MO part."""
    message_id: str = ""
    """Receipts: the id reported."""
    stat: str = ""
    """Receipts: the stat word."""
    err: int = 0
    """Receipts: the error code."""
    destination: str = ""
    """Receipts: the handset the message was for."""
    part: int | None = None
    """The part reported (receipt) or carried (MO), when concatenated."""
    attempts: int = 0
    """Attempts made so far."""


class DeliveryQueues:
    """Per-account queues of deliveries waiting for a receiver, with delayed redelivery."""

    def __init__(self, config: DeliveryConfig) -> None:
        """Create empty queues.

        Args:
            config: Window, retry delay and attempts.
        """
        self._config = config
        self._ready: OrderedDict[str, deque[Delivery]] = OrderedDict()
        self._later: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._queued: dict[str, int] = {}
        self.dropped = 0
        """Deliveries dropped: queue full, attempts exhausted, or refused permanently."""

    def queued(self, account: str) -> int:
        """Deliveries of one account waiting (ready or for a retry).

        Args:
            account: system_id.

        Returns:
            The count.
        """
        return self._queued.get(account, 0)

    @property
    def total(self) -> int:
        """Deliveries waiting over all accounts."""
        return sum(self._queued.values())

    def _count(self, account: str, delta: int) -> None:
        value = self._queued.get(account, 0) + delta
        if value > 0:
            self._queued[account] = value
        else:
            self._queued.pop(account, None)

    def push(self, delivery: Delivery, capacity: int, *, front: bool = False) -> Delivery | None:
        """Queue a delivery for its account's receivers.

        Args:
            delivery: The delivery.
            capacity: The account's max_queued_deliveries.
            front: Put it first (a delivery given back by a closing session).

        Returns:
            A delivery dropped to make room (the oldest ready one), or None.
        """
        dropped: Delivery | None = None
        account = delivery.account
        queue = self._ready.get(account)
        if queue is None:
            queue = self._ready[account] = deque()
        if self._queued.get(account, 0) >= capacity:
            if queue:
                dropped = queue.popleft()
            else:
                self.dropped += 1
                return delivery
            self._count(account, -1)
            self.dropped += 1
        if front:
            queue.appendleft(delivery)
        else:
            queue.append(delivery)
        self._count(account, 1)
        return dropped

    def pop(self, account: str) -> Delivery | None:
        """Take the next ready delivery of an account.

        Args:
            account: system_id.

        Returns:
            The delivery, or None when none is ready.
        """
        queue = self._ready.get(account)
        if not queue:
            return None
        delivery = queue.popleft()
        if not queue:
            del self._ready[account]
        self._count(account, -1)
        return delivery

    def ready_accounts(self) -> list[str]:
        """Accounts with ready deliveries.

        Returns:
            Their system_ids.
        """
        return list(self._ready)

    def has_ready(self, account: str) -> bool:
        """Whether an account has a ready delivery.

        Args:
            account: system_id.

        Returns:
            True if ``pop`` would return one.
        """
        return bool(self._ready.get(account))

    def retry(self, delivery: Delivery, now: float) -> bool:
        """Schedule another attempt after ``retry_delay_s``, unless attempts are exhausted.

        Args:
            delivery: A delivery that failed temporarily (its ``attempts`` already counted).
            now: Current time.

        Returns:
            False when the delivery was dropped (``max_attempts`` reached).
        """
        if delivery.attempts >= self._config.max_attempts:
            self.dropped += 1
            return False
        heapq.heappush(self._later, (now + self._config.retry_delay_s, next(self._order), delivery))
        self._count(delivery.account, 1)
        return True

    def next_retry(self) -> float | None:
        """When the next retry falls due.

        Returns:
            The time, or None.
        """
        return self._later[0][0] if self._later else None

    def due(self, now: float) -> set[str]:
        """Move retries that fell due to the front of their account's ready queue.

        Args:
            now: Current time.

        Returns:
            The accounts that got deliveries back.
        """
        accounts: set[str] = set()
        later = self._later
        while later and later[0][0] <= now:
            _, _, delivery = heapq.heappop(later)
            account = delivery.account
            queue = self._ready.get(account)
            if queue is None:
                queue = self._ready[account] = deque()
            queue.appendleft(delivery)
            accounts.add(account)
        return accounts

    def drain(self, accounts: Iterable[str] | None = None) -> list[Delivery]:
        """Remove and return every waiting delivery (of some accounts).

        Args:
            accounts: Limit to these accounts (all when None).

        Returns:
            The deliveries removed.
        """
        wanted = None if accounts is None else set(accounts)
        out: list[Delivery] = []
        for account in list(self._ready):
            if wanted is None or account in wanted:
                out.extend(self._ready.pop(account))
        keep: list[tuple[float, int, Delivery]] = []
        for item in self._later:
            if wanted is None or item[2].account in wanted:
                out.append(item[2])
            else:
                keep.append(item)
        heapq.heapify(keep)
        self._later = keep
        for delivery in out:
            self._count(delivery.account, -1)
        return out
