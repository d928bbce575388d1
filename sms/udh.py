"""User Data Header (TS 23.040 §9.2.3.24): build and parse information elements.

A UDH is `UDHL` (one octet: the length of what follows) and then information elements, each
`IEI, IEDL, data[IEDL]`. It sits at the start of TP-UD / SMPP `short_message` when the UDHI bit
(esm_class 0x40, SMPP 3.4 §5.2.12) is set.

Invariants:
    * A value of this module's types is well formed: `Concat`, `Ports` and `RawIE` check their
      fields when built, so `Udh.to_bytes()` never produces a header that `parse_udh` rejects, and
      `parse_udh(udh.to_bytes()) == udh` for every `udh`.
    * Parsing never reads past the header, never guesses, and never drops an element silently:
      elements it does not know are kept as `RawIE`, byte for byte, in their original order.
    * Every malformed header raises `UdhError` whose `fault` (a `UdhFault`) names the defect.
      Structural faults (a length that runs past the data) always raise. Semantic faults in a known
      element (wrong IEDL, concat total 0, seq 0, seq > total) raise in strict mode; with
      `strict=False` the element is kept as a `RawIE` instead, which is the receiver behaviour of
      TS 23.040 §9.2.3.24.1 ("ignore the information element").
    * Repeated elements are kept; the accessors `Udh.concat` and `Udh.ports` return the last one,
      as TS 23.040 §9.2.3.24 prescribes for repeated or mutually exclusive elements.
    * Pure: no I/O, clock or randomness.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final, Literal, TypeAlias

from sms.errors import SmsError

__all__ = [
    "MAX_UDH_LENGTH",
    "Concat",
    "Iei",
    "InformationElement",
    "Ports",
    "RawIE",
    "Udh",
    "UdhError",
    "UdhFault",
    "parse_udh",
    "split_udh",
]

#: A UDH (UDHL octet included) must fit the 140-octet TP-UD.
MAX_UDH_LENGTH: Final[int] = 140


class Iei(IntEnum):
    """Information element identifiers this module understands (TS 23.040 §9.2.3.24)."""

    CONCAT_8BIT = 0x00
    """Concatenated short messages, 8-bit reference number."""
    PORTS_8BIT = 0x04
    """Application port addressing scheme, 8-bit addresses."""
    PORTS_16BIT = 0x05
    """Application port addressing scheme, 16-bit addresses."""
    CONCAT_16BIT = 0x08
    """Concatenated short messages, 16-bit reference number."""


#: IEDL each known element must have.
_KNOWN_IEDL: Final[dict[int, int]] = {
    Iei.CONCAT_8BIT: 3,
    Iei.PORTS_8BIT: 2,
    Iei.PORTS_16BIT: 4,
    Iei.CONCAT_16BIT: 4,
}


class UdhFault(StrEnum):
    """What is wrong with a user data header."""

    EMPTY = "empty"
    """There is no UDHL octet at all."""
    UDHL_OVERRUN = "udhl_overrun"
    """UDHL says the header is longer than the data."""
    TRAILING_DATA = "trailing_data"
    """`parse_udh` was given octets after the header."""
    IE_TRUNCATED = "ie_truncated"
    """The header ends between an IEI and its IEDL."""
    IE_OVERRUN = "ie_overrun"
    """An IEDL runs past the end of the header."""
    BAD_IE_LENGTH = "bad_ie_length"
    """A known element has the wrong IEDL (e.g. concat 0x00 with IEDL 4)."""
    CONCAT_TOTAL_ZERO = "concat_total_zero"
    """Concat total is 0."""
    CONCAT_SEQ_ZERO = "concat_seq_zero"
    """Concat sequence number is 0 (numbering starts at 1)."""
    CONCAT_SEQ_BEYOND_TOTAL = "concat_seq_beyond_total"
    """Concat sequence number is greater than the total."""
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    """A field does not fit its width (building only)."""
    TOO_LONG = "too_long"
    """The header would not fit in 140 octets of TP-UD (building only)."""


class UdhError(SmsError):
    """A user data header is malformed, or an element cannot be built.

    Attributes:
        fault: What is wrong.
        detail: The specifics, in a few words.
        offset: Offset in the parsed octets where the fault was found (None when building).
    """

    def __init__(self, fault: UdhFault, detail: str, offset: int | None = None) -> None:
        self.fault = fault
        self.detail = detail
        self.offset = offset
        where = "" if offset is None else f" at offset {offset}"
        super().__init__(f"malformed UDH ({fault}){where}: {detail}")


def _check_range(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise UdhError(UdhFault.VALUE_OUT_OF_RANGE, f"{name}={value} does not fit {bits} bits")


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenated short message element: IEI 0x00 (8-bit reference) or 0x08 (16-bit)."""

    reference: int
    """Concatenated message reference number, the same in every part of one message."""
    total: int
    """Number of parts in the message, 1..255."""
    seq: int
    """This part's number, 1..total."""
    ref_bits: Literal[8, 16] = 8
    """Width of `reference`: 8 (IEI 0x00) or 16 (IEI 0x08)."""

    def __post_init__(self) -> None:
        if self.ref_bits not in (8, 16):
            raise UdhError(
                UdhFault.VALUE_OUT_OF_RANGE, f"ref_bits must be 8 or 16, not {self.ref_bits}"
            )
        _check_range("reference", self.reference, self.ref_bits)
        _check_range("total", self.total, 8)
        _check_range("seq", self.seq, 8)
        if self.total == 0:
            raise UdhError(UdhFault.CONCAT_TOTAL_ZERO, "concat total is 0")
        if self.seq == 0:
            raise UdhError(UdhFault.CONCAT_SEQ_ZERO, "concat seq is 0 (parts are numbered from 1)")
        if self.seq > self.total:
            raise UdhError(
                UdhFault.CONCAT_SEQ_BEYOND_TOTAL, f"concat seq {self.seq} > total {self.total}"
            )

    @property
    def iei(self) -> int:
        """0x00 for an 8-bit reference, 0x08 for a 16-bit one."""
        return Iei.CONCAT_8BIT if self.ref_bits == 8 else Iei.CONCAT_16BIT

    def to_bytes(self) -> bytes:
        """The element as IEI, IEDL, data."""
        if self.ref_bits == 8:
            return bytes((Iei.CONCAT_8BIT, 3, self.reference, self.total, self.seq))
        return bytes(
            (Iei.CONCAT_16BIT, 4, self.reference >> 8, self.reference & 0xFF, self.total, self.seq)
        )


@dataclass(frozen=True, slots=True)
class Ports:
    """Application port addressing: IEI 0x04 (8-bit ports) or 0x05 (16-bit ports)."""

    destination: int
    """Destination port."""
    source: int
    """Originator port."""
    port_bits: Literal[8, 16] = 16
    """Width of both ports: 8 (IEI 0x04) or 16 (IEI 0x05)."""

    def __post_init__(self) -> None:
        if self.port_bits not in (8, 16):
            raise UdhError(
                UdhFault.VALUE_OUT_OF_RANGE, f"port_bits must be 8 or 16, not {self.port_bits}"
            )
        _check_range("destination port", self.destination, self.port_bits)
        _check_range("source port", self.source, self.port_bits)

    @property
    def iei(self) -> int:
        """0x04 for 8-bit ports, 0x05 for 16-bit ports."""
        return Iei.PORTS_8BIT if self.port_bits == 8 else Iei.PORTS_16BIT

    def to_bytes(self) -> bytes:
        """The element as IEI, IEDL, data (destination port first)."""
        if self.port_bits == 8:
            return bytes((Iei.PORTS_8BIT, 2, self.destination, self.source))
        return (
            bytes((Iei.PORTS_16BIT, 4))
            + self.destination.to_bytes(2, "big")
            + self.source.to_bytes(2, "big")
        )


@dataclass(frozen=True, slots=True)
class RawIE:
    """An element kept as it was: unknown IEIs, and invalid known ones in lenient parsing."""

    iei: int
    """Information element identifier, 0..255."""
    data: bytes
    """The element data (IEDL is `len(data)`), at most 255 octets."""

    def __post_init__(self) -> None:
        _check_range("iei", self.iei, 8)
        if len(self.data) > 0xFF:
            raise UdhError(UdhFault.VALUE_OUT_OF_RANGE, f"IE data of {len(self.data)} octets > 255")

    def to_bytes(self) -> bytes:
        """The element as IEI, IEDL, data."""
        return bytes((self.iei, len(self.data))) + self.data


InformationElement: TypeAlias = Concat | Ports | RawIE


@dataclass(frozen=True, slots=True)
class Udh:
    """A user data header: an ordered tuple of information elements."""

    ies: tuple[InformationElement, ...] = ()
    """The elements in header order."""

    def __post_init__(self) -> None:
        length = self.length
        if length > MAX_UDH_LENGTH:
            raise UdhError(UdhFault.TOO_LONG, f"header of {length} octets > {MAX_UDH_LENGTH}")

    @property
    def concat(self) -> Concat | None:
        """The last concatenation element, if any."""
        return next((ie for ie in reversed(self.ies) if isinstance(ie, Concat)), None)

    @property
    def ports(self) -> Ports | None:
        """The last port addressing element, if any."""
        return next((ie for ie in reversed(self.ies) if isinstance(ie, Ports)), None)

    def to_bytes(self) -> bytes:
        """UDHL followed by the elements."""
        body = b"".join(ie.to_bytes() for ie in self.ies)
        return bytes((len(body),)) + body

    @property
    def length(self) -> int:
        """Octets the header occupies, UDHL included."""
        return 1 + sum(len(ie.to_bytes()) for ie in self.ies)


def _known_ie(iei: int, data: bytes, offset: int) -> InformationElement:
    expected = _KNOWN_IEDL[iei]
    if len(data) != expected:
        raise UdhError(
            UdhFault.BAD_IE_LENGTH,
            f"IEI 0x{iei:02X} needs IEDL {expected}, got {len(data)}",
            offset,
        )
    if iei == Iei.CONCAT_8BIT:
        return Concat(data[0], data[1], data[2], 8)
    if iei == Iei.CONCAT_16BIT:
        return Concat((data[0] << 8) | data[1], data[2], data[3], 16)
    if iei == Iei.PORTS_8BIT:
        return Ports(data[0], data[1], 8)
    return Ports(int.from_bytes(data[0:2], "big"), int.from_bytes(data[2:4], "big"), 16)


def _parse_ie(iei: int, data: bytes, offset: int, strict: bool) -> InformationElement:
    if iei not in _KNOWN_IEDL:
        return RawIE(iei, data)
    try:
        return _known_ie(iei, data, offset)
    except UdhError as exc:
        if strict:
            if exc.offset is None:
                raise UdhError(exc.fault, exc.detail, offset) from None
            raise
        return RawIE(iei, data)


def split_udh(data: bytes, *, strict: bool = True) -> tuple[Udh, bytes]:
    """Split a `short_message` sent with UDHI set into its header and the rest.

    Args:
        data: The octets, starting with UDHL.
        strict: When false, a known element with a semantic fault is kept as a `RawIE` (and so
            does not count as `concat`/`ports`) instead of raising.

    Returns:
        The parsed header and the octets after it (the message body).

    Raises:
        UdhError: the header is malformed; `fault` says how.
    """
    if not data:
        raise UdhError(UdhFault.EMPTY, "no UDHL octet", 0)
    udhl = data[0]
    end = 1 + udhl
    if end > len(data):
        raise UdhError(
            UdhFault.UDHL_OVERRUN, f"UDHL {udhl} but only {len(data) - 1} octets follow", 0
        )
    ies: list[InformationElement] = []
    offset = 1
    while offset < end:
        if offset + 2 > end:
            raise UdhError(UdhFault.IE_TRUNCATED, "header ends inside an IE header", offset)
        iei, iedl = data[offset], data[offset + 1]
        if offset + 2 + iedl > end:
            raise UdhError(
                UdhFault.IE_OVERRUN,
                f"IEI 0x{iei:02X} IEDL {iedl} overruns the header by {offset + 2 + iedl - end}",
                offset,
            )
        ies.append(_parse_ie(iei, bytes(data[offset + 2 : offset + 2 + iedl]), offset, strict))
        offset += 2 + iedl
    return Udh(tuple(ies)), bytes(data[end:])


def parse_udh(header: bytes, *, strict: bool = True) -> Udh:
    """Parse octets that are exactly one user data header (UDHL included).

    Raises:
        UdhError: the header is malformed, or octets follow it (`UdhFault.TRAILING_DATA`).
    """
    udh, rest = split_udh(header, strict=strict)
    if rest:
        raise UdhError(
            UdhFault.TRAILING_DATA, f"{len(rest)} octets after the header", len(header) - len(rest)
        )
    return udh
