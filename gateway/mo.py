"""Mobile-originated messages: reassembly, storage, link to what we sent, opt-out keywords.

Theory of operation:
    Every deliver_sm that is not a receipt comes here (`MoInbound.handle`, awaited by the
    read loop, so the deliver_sm_resp is written only after this returns). Its user data is
    re-read from the PDU octets (`read_user_data`): aiosmpplib's parsed DeliverSm has the text
    already decoded with the UDH stripped (and misreads 16-bit references), while the
    reassembler needs the raw body, the data_coding and the concatenation element. Parts are
    keyed by (handset, our number, reference, total) in one `sms.segments.Reassembler` shared by
    all binds, so a message whose parts arrive on different binds is still put together.
    A complete (or expired, or evicted) message is stored with `record_mo`, which links it to
    the last message we sent to that handset, and published as `MoReceived`. If its text is an
    opt-out keyword, the handset is added to the suppression list (and, with
    `mo.opt_out_alert`, an ``opted_out`` `Alert` naming it is published); `Gateway.submit`
    refuses later messages to it (``suppressed``) and the dispatcher fails any still queued.

Invariants:
    * A message is stored once, whole or flagged incomplete (metadata ``complete: false`` and
      the ``missing`` part numbers); duplicate parts are counted, never stored twice.
    * Single-part MO and the last part of a concatenated MO are committed before their
      deliver_sm_resp. Earlier parts of a concatenated MO wait in memory: a crash loses them
      (the SMSC will not resend acknowledged parts). Known limitation.
    * Handset numbers are normalised to E.164 the way destinations are, so the link to our
      messages and the suppression list use one spelling.
"""

from __future__ import annotations

import logging
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from gateway.config import MoConfig, NumbersConfig
from gateway.esme import GatewayStats
from gateway.store import AsyncMessageStore
from sms.alphabet import Encoding, EncodingError, encoding_for_data_coding
from sms.bus import Alert, MoReceived, Publisher
from sms.clock import Clock
from sms.numbers import InvalidNumber, parse_msisdn
from sms.segments import InvalidSar, Reassembled, Reassembler, Sar
from sms.udh import Concat, UdhError, split_udh

__all__ = ["MoInbound", "UserData", "is_opt_out", "normalise_handset", "read_user_data"]

log = logging.getLogger("smsh.gateway.mo")

TAG_SAR_MSG_REF_NUM: Final[int] = 0x020C
TAG_SAR_TOTAL_SEGMENTS: Final[int] = 0x020E
TAG_SAR_SEGMENT_SEQNUM: Final[int] = 0x020F
TAG_MESSAGE_PAYLOAD: Final[int] = 0x0424
ESM_CLASS_UDHI: Final[int] = 0x40


@dataclass(frozen=True, slots=True)
class UserData:
    """The fields of a deliver_sm that reassembly needs, as octets."""

    source: str
    """source_addr (the handset)."""
    source_ton: int
    """source_addr_ton."""
    destination: str
    """destination_addr (our number or short code)."""
    esm_class: int
    """esm_class."""
    data_coding: int
    """data_coding."""
    short_message: bytes
    """short_message octets (UDH included when esm_class has UDHI)."""
    message_payload: bytes | None
    """message_payload TLV value, if present."""
    sar: tuple[int, int, int] | None
    """(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum), if all three are present."""


def _cstr(pdu: bytes, offset: int) -> tuple[str, int]:
    end = pdu.index(0, offset)
    return pdu[offset:end].decode("latin-1"), end + 1


def read_user_data(pdu: bytes) -> UserData:
    """Read the addressing and user data of a deliver_sm PDU (SMPP 3.4 §4.6.1).

    Args:
        pdu: The whole PDU, header included.

    Returns:
        The fields.

    Raises:
        ValueError: The body is truncated or malformed.
    """
    try:
        offset = 16
        _service, offset = _cstr(pdu, offset)
        source_ton = pdu[offset]
        offset += 2
        source, offset = _cstr(pdu, offset)
        offset += 2
        destination, offset = _cstr(pdu, offset)
        esm_class = pdu[offset]
        offset += 3  # esm_class, protocol_id, priority_flag
        _schedule, offset = _cstr(pdu, offset)
        _validity, offset = _cstr(pdu, offset)
        data_coding = pdu[offset + 2]
        sm_length = pdu[offset + 4]
        offset += 5
        short_message = pdu[offset : offset + sm_length]
        if len(short_message) != sm_length:
            raise ValueError("short_message runs past the PDU")
        offset += sm_length
        tlvs: dict[int, bytes] = {}
        while offset + 4 <= len(pdu):
            tag, length = struct.unpack_from(">HH", pdu, offset)
            offset += 4
            tlvs[tag] = pdu[offset : offset + length]
            offset += length
    except (IndexError, struct.error) as exc:
        raise ValueError(f"truncated deliver_sm: {exc}") from None
    sar: tuple[int, int, int] | None = None
    ref, total, seq = (
        tlvs.get(TAG_SAR_MSG_REF_NUM),
        tlvs.get(TAG_SAR_TOTAL_SEGMENTS),
        tlvs.get(TAG_SAR_SEGMENT_SEQNUM),
    )
    if ref and total and seq:
        sar = (int.from_bytes(ref, "big"), total[0], seq[0])
    return UserData(
        source=source,
        source_ton=source_ton,
        destination=destination,
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=short_message,
        message_payload=tlvs.get(TAG_MESSAGE_PAYLOAD),
        sar=sar,
    )


def normalise_handset(address: str, ton: int, numbers: NumbersConfig) -> str:
    """The handset's number in the spelling destinations are stored in (E.164), if possible.

    Args:
        address: source_addr.
        ton: source_addr_ton (1: international digits without ``+``).
        numbers: The number policy.

    Returns:
        E.164 (``+819012345678``), or the address unchanged when it is not a number we know.
    """
    raw = f"+{address}" if ton == 1 and address.isdigit() else address
    try:
        return parse_msisdn(
            raw,
            allow_060=True,
            allow_m2m=True,
            default_country=numbers.default_country,
        ).e164
    except InvalidNumber:
        return address


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def is_opt_out(text: str, keywords: frozenset[str]) -> bool:
    """Whether an MO text asks to stop: the whole text, or its first word, is a keyword.

    Args:
        text: The MO text.
        keywords: Keywords already folded with NFKC + casefold.

    Returns:
        True for an opt-out.
    """
    folded = _fold(text)
    if not folded:
        return False
    if folded in keywords:
        return True
    first = folded.split(maxsplit=1)[0].strip(".!。！")
    return first in keywords


class MoInbound:
    """Receives MO deliver_sm for every bind of one gateway.

    Args:
        store: The store.
        clock: Time source.
        events: Bus publisher.
        stats: Counters.
        config: MO settings (keywords, reassembly timeout).
        numbers: Number policy (handset normalisation).
    """

    def __init__(
        self,
        store: AsyncMessageStore,
        clock: Clock,
        events: Publisher,
        stats: GatewayStats,
        config: MoConfig,
        numbers: NumbersConfig,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.stats = stats
        self.config = config
        self.numbers = numbers
        self.keywords = frozenset(_fold(k) for k in config.stop_keywords)
        self.reassembler = Reassembler(
            timeout=config.reassembly_timeout, max_pending=config.max_pending
        )
        self.opt_outs = 0
        """Handsets suppressed by a keyword."""
        self.unreadable = 0
        """deliver_sm whose user data could not be read."""

    async def handle(self, message: Any, pdu: bytes, bind: str) -> None:
        """Take one MO deliver_sm (awaited before it is acknowledged).

        Args:
            message: aiosmpplib's parsed DeliverSm (unused beyond logging: see the module).
            pdu: The PDU octets.
            bind: The bind it arrived on.
        """
        now = self.clock.now()
        try:
            data = read_user_data(pdu)
        except ValueError as exc:
            self.unreadable += 1
            log.warning("smsh.gateway.mo_unreadable", extra={"bind": bind, "error": str(exc)})
            return
        source = normalise_handset(data.source, data.source_ton, self.numbers)
        part: Concat | Sar | None = None
        body = data.message_payload if data.message_payload is not None else data.short_message
        if data.esm_class & ESM_CLASS_UDHI and data.message_payload is None:
            try:
                udh, body = split_udh(data.short_message, strict=False)
                part = udh.concat
            except UdhError as exc:
                log.info("smsh.gateway.mo_bad_udh", extra={"bind": bind, "error": str(exc)})
        elif data.sar is not None:
            try:
                part = Sar(*data.sar)
            except InvalidSar as exc:
                log.info("smsh.gateway.mo_bad_sar", extra={"bind": bind, "error": str(exc)})
        if part is not None and part.total == 1:
            part = None
        coding = data.data_coding
        try:
            encoding_for_data_coding(coding)
        except EncodingError:
            coding = 0x04  # undecodable: keep the octets readable as 8-bit data
        done = self.reassembler.add(
            source, data.destination or "-", part, body, now, data_coding=coding
        )
        for message_done in done:
            await self._store(message_done, bind, data.data_coding)

    async def expire(self) -> int:
        """Store messages whose missing parts did not come in time; returns how many."""
        done = self.reassembler.expire(self.clock.now())
        for message in done:
            await self._store(message, None, None)
        return len(done)

    async def drain(self) -> int:
        """Store every pending message as it is (at shutdown); returns how many."""
        done = self.reassembler.drain()
        for message in done:
            await self._store(message, None, None)
        return len(done)

    async def _store(self, message: Reassembled, bind: str | None, data_coding: int | None) -> None:
        now = self.clock.now()
        metadata: dict[str, Any] = {"complete": message.complete, "reason": message.reason.value}
        if message.missing:
            metadata["missing"] = list(message.missing)
        if message.duplicates:
            metadata["duplicates"] = message.duplicates
        if message.reference is not None:
            metadata["reference"] = message.reference
        if bind is not None:
            metadata["bind"] = bind
        record = await self.store.record_mo(
            message.source,
            message.destination,
            message.text,
            now,
            parts=max(1, len(message.received)),
            metadata=metadata,
        )
        self.stats.mo += 1
        self.stats.metrics.record_count("mo", now=now)
        encoding = Encoding.GSM7
        if data_coding is not None:
            try:
                encoding = encoding_for_data_coding(data_coding)
            except EncodingError:
                encoding = Encoding.BINARY
        self.events.publish_nowait(
            MoReceived(
                at=now,
                source=message.source or "-",
                destination=message.destination or "-",
                text=message.text,
                parts=max(1, min(255, message.total)),
                reassembled=message.total > 1,
                encoding=encoding,
                bind_id=bind,
                message_id=str(record.id),
            )
        )
        if is_opt_out(message.text, self.keywords):
            await self.store.suppress(message.source, self.config.opt_out_reason, now)
            self.opt_outs += 1
            self.stats.metrics.record_count("opt_out", now=now)
            log.info("smsh.gateway.opt_out", extra={"number": message.source})
            if self.config.opt_out_alert:
                self.events.publish_nowait(
                    Alert(
                        at=now,
                        alert_kind="opted_out",
                        severity="info",
                        destination=message.source,
                        # The message replied to (the last one sent to the handset), if any.
                        message_id=str(record.linked_message_id)
                        if record.linked_message_id is not None
                        else None,
                        detail=f"{message.source} replied {message.text.strip()[:40]!r}: "
                        "added to the suppression list",
                    )
                )
