"""The harness's vendor TLVs: per-message metadata a gateway attaches in-band for the simulator.

SMPP 3.4 §5.3.2 reserves tags 0x1400-0x3FFF for SMSC vendors. sms-harness uses three of them so
that a message's identity and intended recipient travel with each submit_sm part:

    0x1500  harness_message_key  C-octet string   the message key (the simulator's fate key)
    0x1501  intended_owner       C-octet string   the owner id the sender means to reach
    0x1502  obtained_date        8 ASCII digits   YYYYMMDD: when the sender obtained the number

The gateway writes them (`harness_tlvs`) when a route enables them; the simulator reads them
(`simulator.network.messages.vendor_fields`). A real SMSC ignores unknown vendor TLVs (SMPP 3.4
§3.2.6.3 obliges it to), so they are harmless on a route to a real carrier, but they are off by
default there.

Invariants:
    * The encoding is the one `vendor_fields` decodes: C-octet strings are UTF-8 with a
      terminating NUL, the date is 8 ASCII digits with no NUL.
    * A value that cannot be encoded within SMPP's 2-octet TLV length raises `ValueError`; an
      absent value produces no TLV.
"""

from __future__ import annotations

from datetime import date
from typing import Final

__all__ = [
    "HARNESS_TAGS",
    "TLV_HARNESS_MESSAGE_KEY",
    "TLV_INTENDED_OWNER",
    "TLV_OBTAINED_DATE",
    "harness_tlvs",
]

#: Vendor TLV carrying the message key (C-octet string).
TLV_HARNESS_MESSAGE_KEY: Final[int] = 0x1500
#: Vendor TLV carrying the intended recipient's owner id (C-octet string).
TLV_INTENDED_OWNER: Final[int] = 0x1501
#: Vendor TLV carrying the date the number was obtained (8 ASCII digits YYYYMMDD).
TLV_OBTAINED_DATE: Final[int] = 0x1502
#: All three tags.
HARNESS_TAGS: Final[frozenset[int]] = frozenset(
    {TLV_HARNESS_MESSAGE_KEY, TLV_INTENDED_OWNER, TLV_OBTAINED_DATE}
)
#: Longest TLV value SMPP can carry (2-octet length field).
_MAX_VALUE: Final[int] = 0xFFFF


def _cstring(tag: int, value: str) -> bytes:
    raw = value.encode("utf-8") + b"\x00"
    if len(raw) > _MAX_VALUE:
        raise ValueError(f"TLV 0x{tag:04X}: {len(raw)} octets exceed {_MAX_VALUE}")
    return raw


def harness_tlvs(
    key: str | None = None,
    owner: str | None = None,
    obtained: date | None = None,
) -> tuple[tuple[int, bytes], ...]:
    """The vendor TLVs for one message, in tag order (absent values give no TLV).

    Args:
        key: The message key (TLV 0x1500).
        owner: The intended owner's id (TLV 0x1501).
        obtained: When the sender obtained the number (TLV 0x1502).

    Returns:
        ``(tag, value)`` pairs ready for a submit_sm's optional parameters.

    Raises:
        ValueError: A value is too long for a TLV.
    """
    out: list[tuple[int, bytes]] = []
    if key:
        out.append((TLV_HARNESS_MESSAGE_KEY, _cstring(TLV_HARNESS_MESSAGE_KEY, key)))
    if owner:
        out.append((TLV_INTENDED_OWNER, _cstring(TLV_INTENDED_OWNER, owner)))
    if obtained is not None:
        out.append((TLV_OBTAINED_DATE, f"{obtained:%Y%m%d}".encode("ascii")))
    return tuple(out)
