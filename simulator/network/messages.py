"""What the server hands the carrier model: one accepted-for-processing submit_sm.

The server decodes the PDU, strips the UDH (or reads the SAR TLVs) and builds a
`SubmittedMessage`. Everything the model needs is here, in plain values, so the model never
parses bytes of the SMPP layer.

Vendor-specific TLVs (SMPP 3.4 §5.3.2: tags 0x1400-0x3FFF are reserved for SMSC vendors) that
this simulator understands, so a test harness can attach per-message metadata in-band:

    0x1500  harness_message_key  C-octet string   the message key (see `simulator.network.fate`)
    0x1501  intended_owner       C-octet string   the owner id the sender means to reach
    0x1502  obtained_date        8 ASCII digits   YYYYMMDD: when the sender obtained the number

The same metadata may come from the scenario instead; the server then fills the fields directly.
Of the standard TLVs the model reads user_message_reference (0x0204, part of the message key) and
set_dpf (0x0421 = 1: alert_notification when an absent handset returns, `SubmittedMessage.set_dpf`);
the server's adapter (`simulator.carrier.to_submitted`) extracts them.

Invariants:
    * A `SubmittedMessage` is validated once, when built, and never mutated by the model. It is a
      plain slots dataclass rather than a frozen one because one is built per submit_sm and a
      frozen `__init__` costs about five times as much.
    * `vendor_fields` never raises on garbage: an undecodable TLV is ignored and reported in the
      returned `problems` so the server can log it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from simulator.network.errors import NetworkModelError
from sms.segments import Sar
from sms.udh import Concat

__all__ = [
    "TLV_HARNESS_MESSAGE_KEY",
    "TLV_INTENDED_OWNER",
    "TLV_OBTAINED_DATE",
    "SubmittedMessage",
    "VendorFields",
    "vendor_fields",
]

#: Vendor TLV carrying the message key (C-octet string).
TLV_HARNESS_MESSAGE_KEY: Final[int] = 0x1500
#: Vendor TLV carrying the intended recipient's owner id (C-octet string).
TLV_INTENDED_OWNER: Final[int] = 0x1501
#: Vendor TLV carrying the date the number was obtained (8 ASCII digits YYYYMMDD).
TLV_OBTAINED_DATE: Final[int] = 0x1502


@dataclass(slots=True)
class SubmittedMessage:
    """One submit_sm as the carrier model sees it (one part of a long message)."""

    account: str
    """system_id of the bound ESME."""
    source_addr: str
    """source_addr exactly as received (the sender ID)."""
    destination_addr: str
    """destination_addr as received (national, E.164 digits or +E.164)."""
    short_message: bytes = b""
    """The part's body without UDH (or the message_payload value)."""
    data_coding: int = 0
    """SMPP data_coding of the body."""
    source_ton: int = 0
    """source_addr_ton (5 = alphanumeric, 1 = international)."""
    source_npi: int = 0
    """source_addr_npi."""
    esm_class: int = 0
    """esm_class as received."""
    registered_delivery: int = 1
    """registered_delivery: bits 0-1 receipt (0 none, 1 always, 2 on failure, 3 on success),
    bit 4 (0x10) intermediate notifications (SMPP 3.4 §5.2.17)."""
    validity_s: float | None = None
    """Validity requested by the ESME, in seconds from submission (the server resolves
    absolute and relative validity_period); None: the carrier's maximum."""
    concat: Concat | Sar | None = None
    """The part's place in a long message (from the UDH or the sar_* TLVs); None when single."""
    user_message_reference: int | None = None
    """TLV user_message_reference (0x0204), if present."""
    message_key: str | None = None
    """Explicit message key (scenario metadata or TLV 0x1500); see `simulator.network.fate`."""
    intended_owner: str | None = None
    """Owner id the sender means to reach (TLV 0x1501 or scenario metadata)."""
    obtained_date: date | None = None
    """When the sender obtained the number (TLV 0x1502 or scenario metadata)."""
    route: str | None = None
    """Route override; None: the account's configured route."""
    text: str | None = None
    """The decoded body if the server already has it; None: the model decodes when it needs to."""
    dest_ton: int = 0
    """dest_addr_ton (echoed as source_addr_ton of an alert_notification)."""
    dest_npi: int = 0
    """dest_addr_npi (echoed as source_addr_npi of an alert_notification)."""
    set_dpf: bool = False
    """TLV set_dpf (0x0421) = 1: the ESME asks for alert_notification when a failed or retried
    delivery's handset becomes available again (SMPP 3.4 §4.12, TLV set_dpf in §5.3.2)."""
    part: int = field(init=False)
    """This part's seq (1 for a single message); derived from `concat`."""
    total: int = field(init=False)
    """Parts in the message (1 for a single message); derived from `concat`."""

    def __post_init__(self) -> None:
        if not self.account:
            raise NetworkModelError("SubmittedMessage.account must not be empty")
        concat = self.concat
        if concat is None:
            self.part = self.total = 1
        elif not 1 <= concat.seq <= concat.total:
            raise NetworkModelError(f"concat seq {concat.seq} outside 1..{concat.total}")
        else:
            self.part = concat.seq
            self.total = concat.total


@dataclass(frozen=True, slots=True)
class VendorFields:
    """Metadata read from the vendor TLVs of a submit_sm."""

    message_key: str | None = None
    """TLV 0x1500."""
    intended_owner: str | None = None
    """TLV 0x1501."""
    obtained_date: date | None = None
    """TLV 0x1502."""
    problems: tuple[str, ...] = ()
    """TLVs present but unreadable, described for the log."""


def _cstring(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("utf-8")


def vendor_fields(tlvs: Mapping[int, bytes]) -> VendorFields:
    """Read the harness's vendor TLVs (0x1500-0x1502) from a submit_sm's TLVs.

    Args:
        tlvs: TLV tag -> raw value.

    Returns:
        The fields found; unreadable ones are None and described in `problems`.
    """
    problems: list[str] = []
    key = owner = None
    obtained: date | None = None
    raw = tlvs.get(TLV_HARNESS_MESSAGE_KEY)
    if raw is not None:
        try:
            key = _cstring(raw) or None
        except UnicodeDecodeError:
            problems.append("0x1500 harness_message_key is not UTF-8")
    raw = tlvs.get(TLV_INTENDED_OWNER)
    if raw is not None:
        try:
            owner = _cstring(raw) or None
        except UnicodeDecodeError:
            problems.append("0x1501 intended_owner is not UTF-8")
    raw = tlvs.get(TLV_OBTAINED_DATE)
    if raw is not None:
        text = raw.split(b"\x00", 1)[0]
        try:
            if len(text) != 8 or not text.isdigit():
                raise ValueError(text)
            obtained = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            problems.append(f"0x1502 obtained_date {text!r} is not YYYYMMDD")
    return VendorFields(key, owner, obtained, tuple(problems))
