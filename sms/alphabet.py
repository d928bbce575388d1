"""Character encodings of SMS text: GSM 03.38 7-bit, UCS-2 (UTF-16BE), Latin-1 and 8-bit data.

This module owns every byte-level decision about text. Segmentation (`sms.segments`) asks it
what a character costs and how a slice of text encodes; it never looks at bytes itself.

Invariants:
    * GSM 03.38 (3GPP TS 23.038 §6.2.1) default alphabet plus its extension table, nothing else:
      no national language shift tables, and no lossy look-alike replacements (a character that
      is not in the tables is an `UnencodableCharacter`, never a `?`). Extension characters
      (form feed ^ { } \\ [ ~ ] | €) are ESC (0x1B) + code and cost two septets.
    * "Unpacked" GSM text is one septet per octet (the high bit clear). That is what an SMPP
      `short_message` carries for data_coding 0x00. "Packed" GSM text is the air-interface form:
      septets laid LSB-first in a bit stream, optionally preceded by 0..6 fill bits so that the
      first septet after a user data header starts on a septet boundary (TS 23.040 §9.2.3.24).
    * `encode_gsm7` never emits a lone ESC and never emits ESC ESC, so `decode_gsm7` (strict)
      inverts it exactly. The lenient decoder renders what a handset shows (TS 23.038 §6.2.1.1).
    * UCS-2 is UTF-16BE: a character outside the BMP travels as a surrogate pair and counts as two
      code units (what handsets decode; DOMAIN.md §1.3). A lone surrogate in the input is not text
      and is rejected.
    * 8-bit data (`Encoding.BINARY`, data_coding 0x04) carries text as UTF-8 octets.
    * Pure: no I/O, no clock, no randomness, no mutable module state.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from sms.errors import SmsError

__all__ = [
    "DATA_CODING",
    "ESC",
    "GSM7_BASIC",
    "GSM7_CHARS",
    "GSM7_EXTENSION",
    "GSM7_EXTENSION_CHARS",
    "DecodingError",
    "Encoding",
    "EncodingError",
    "PackingError",
    "UnencodableCharacter",
    "UnsupportedDataCoding",
    "choose_encoding",
    "code_units",
    "decode",
    "decode_gsm7",
    "decode_ucs2",
    "encode",
    "encode_gsm7",
    "encode_ucs2",
    "encoding_for_data_coding",
    "gsm7_septets",
    "is_gsm7",
    "pack_septets",
    "udh_fill_bits",
    "udh_septets",
    "unpack_septets",
]


class Encoding(StrEnum):
    """How the text of a message is represented on the SMPP link."""

    GSM7 = "gsm7"
    """GSM 03.38 default alphabet + extension table, data_coding 0x00."""
    UCS2 = "ucs2"
    """UTF-16BE (surrogate pairs allowed), data_coding 0x08."""
    LATIN1 = "latin1"
    """ISO-8859-1, data_coding 0x03. Used only when asked for explicitly."""
    BINARY = "binary"
    """8-bit data (text as UTF-8 octets), data_coding 0x04. Used only when asked for explicitly."""


#: SMPP 3.4 §5.2.19 data_coding value sent for each encoding.
DATA_CODING: Final[dict[Encoding, int]] = {
    Encoding.GSM7: 0x00,
    Encoding.LATIN1: 0x03,
    Encoding.BINARY: 0x04,
    Encoding.UCS2: 0x08,
}

#: The escape septet that selects the extension table for the next septet.
ESC: Final[int] = 0x1B

#: TS 23.038 §6.2.1 default alphabet, indexed by septet. Index 0x1B is ESC (a placeholder here:
#: it is never produced from a character). Non-ASCII entries are written as escapes on purpose.
GSM7_BASIC: Final[str] = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"  # 0x00
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e"  # 0x10
    "\x1b\u00c6\u00e6\u00df\u00c9"  # 0x1B
    " !\"#\u00a4%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "\u00a1ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"  # 0x50
    "\u00bfabcdefghijklmno"  # 0x60
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"  # 0x70
)

#: TS 23.038 §6.2.1.1 extension table: septet after ESC -> character.
GSM7_EXTENSION: Final[dict[int, str]] = {
    0x0A: "\x0c",  # FORM FEED
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "\u20ac",  # EURO SIGN
}

_BASIC_ENCODE: Final[dict[str, int]] = {
    char: septet for septet, char in enumerate(GSM7_BASIC) if septet != ESC
}
_EXTENSION_ENCODE: Final[dict[str, int]] = {char: code for code, char in GSM7_EXTENSION.items()}

#: Characters that cost two septets (ESC + code).
GSM7_EXTENSION_CHARS: Final[frozenset[str]] = frozenset(_EXTENSION_ENCODE)
#: Every character GSM-7 can carry (default alphabet without ESC, plus the extension table).
GSM7_CHARS: Final[frozenset[str]] = frozenset(_BASIC_ENCODE) | GSM7_EXTENSION_CHARS

# str.translate tables: character -> its unpacked septet(s) as code points 0..127.
_ENCODE_TABLE: Final[dict[int, str]] = {
    **{ord(char): chr(septet) for char, septet in _BASIC_ENCODE.items()},
    **{ord(char): chr(ESC) + chr(code) for char, code in _EXTENSION_ENCODE.items()},
}
_DECODE_TABLE: Final[dict[int, str]] = {
    septet: char for septet, char in enumerate(GSM7_BASIC) if septet != ESC
}
# TS 23.038 §6.2.1.1: a receiver shows a space for an escape it cannot interpret.
_ESCAPE_AS_SPACE: Final[str] = " "


class EncodingError(SmsError):
    """Base class of text encoding and decoding errors."""


class UnencodableCharacter(EncodingError):
    """A character has no representation in the requested encoding.

    Attributes:
        char: The offending character.
        position: Its index in the text (in Python characters, i.e. code points).
        encoding: The encoding that cannot represent it.
    """

    def __init__(self, char: str, position: int, encoding: Encoding) -> None:
        self.char = char
        self.position = position
        self.encoding = encoding
        super().__init__(
            f"character {char!r} (U+{ord(char):04X}) at position {position} "
            f"cannot be encoded in {encoding}"
        )


class DecodingError(EncodingError):
    """Bytes are not valid in the encoding they were declared in.

    Attributes:
        encoding: The encoding being decoded.
        position: Offset of the first bad octet.
        reason: What is wrong, in a few words.
    """

    def __init__(self, encoding: Encoding, position: int, reason: str) -> None:
        self.encoding = encoding
        self.position = position
        self.reason = reason
        super().__init__(f"invalid {encoding} data at offset {position}: {reason}")


class PackingError(EncodingError):
    """Septet packing or unpacking was asked for something impossible."""


class UnsupportedDataCoding(EncodingError):
    """A data_coding value this package does not decode.

    Attributes:
        data_coding: The value as received.
    """

    def __init__(self, data_coding: int) -> None:
        self.data_coding = data_coding
        super().__init__(f"unsupported data_coding 0x{data_coding:02X}")


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM 03.38 default or extension table."""
    return GSM7_CHARS.issuperset(text)


def _first_non_gsm7(text: str) -> UnencodableCharacter:
    for position, char in enumerate(text):
        if char not in GSM7_CHARS:
            return UnencodableCharacter(char, position, Encoding.GSM7)
    raise AssertionError("unreachable: text is GSM-7")  # pragma: no cover


def gsm7_septets(text: str) -> int:
    """The number of septets `text` occupies in GSM-7 (extension characters count 2).

    Raises:
        UnencodableCharacter: a character is not in the GSM-7 tables.
    """
    if not is_gsm7(text):
        raise _first_non_gsm7(text)
    return len(text) + sum(text.count(char) for char in GSM7_EXTENSION_CHARS)


def choose_encoding(text: str) -> Encoding:
    """The cheapest encoding that represents `text` exactly.

    GSM-7 when every character is in the default or extension table, otherwise UCS-2 (the choice is
    for the whole message: one non-GSM character makes all of it UCS-2). Latin-1 and 8-bit data are
    never chosen automatically (DOMAIN.md §6.1: only when the ESME asks for them).
    """
    return Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2


def encode_gsm7(text: str) -> bytes:
    """Encode to unpacked GSM-7: one septet per octet, extension characters as ESC + code.

    Raises:
        UnencodableCharacter: a character is not in the GSM-7 tables.
    """
    if not is_gsm7(text):
        raise _first_non_gsm7(text)
    return text.translate(_ENCODE_TABLE).encode("latin-1")


def decode_gsm7(septets: bytes, *, strict: bool = True) -> str:
    """Decode unpacked GSM-7 (one septet per octet).

    Args:
        septets: The unpacked septets.
        strict: When true, anything `encode_gsm7` cannot produce is an error: an octet above 0x7F,
            ESC at the end, ESC followed by a code outside the extension table, ESC ESC. When false,
            decode as a handset displays it (TS 23.038 §6.2.1.1): an unknown extension code shows
            the default-table character, ESC ESC and a dangling ESC show a space, and an octet above
            0x7F is read as its low seven bits.

    Returns:
        The text.

    Raises:
        DecodingError: in strict mode, for the cases above.
    """
    if ESC not in septets and septets.isascii():
        return septets.decode("latin-1").translate(_DECODE_TABLE)
    out: list[str] = []
    escaped = False
    for position, octet in enumerate(septets):
        if octet > 0x7F:
            if strict:
                raise DecodingError(Encoding.GSM7, position, f"octet 0x{octet:02X} is not a septet")
            octet &= 0x7F
        if escaped:
            escaped = False
            if octet in GSM7_EXTENSION:
                out.append(GSM7_EXTENSION[octet])
            elif strict:
                raise DecodingError(
                    Encoding.GSM7,
                    position,
                    f"ESC + undefined extension code 0x{octet:02X}",
                )
            elif octet == ESC:
                out.append(_ESCAPE_AS_SPACE)
            else:
                out.append(GSM7_BASIC[octet])
        elif octet == ESC:
            escaped = True
        else:
            out.append(GSM7_BASIC[octet])
    if escaped:
        if strict:
            raise DecodingError(Encoding.GSM7, len(septets) - 1, "dangling ESC at the end")
        out.append(_ESCAPE_AS_SPACE)
    return "".join(out)


def udh_septets(udh_length: int) -> int:
    """Septets a user data header of `udh_length` octets (UDHL octet included) occupies.

    TS 23.040 §9.2.3.24: the header is followed by fill bits up to the next septet boundary, so a
    6-octet header takes 7 septets and a 7-octet header takes 8.
    """
    return -(-udh_length * 8 // 7)


def udh_fill_bits(udh_length: int) -> int:
    """Fill bits (0..6) between a `udh_length`-octet user data header and the first septet."""
    return udh_septets(udh_length) * 7 - udh_length * 8


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets into octets, LSB first, after `fill_bits` zero bits (TS 23.038 §6.1.2.1.1).

    The result has ceil((fill_bits + 7 * len(septets)) / 8) octets; unused high bits of the last
    octet are zero.

    Raises:
        PackingError: `fill_bits` is not in 0..6, or a value is above 0x7F.
    """
    if not 0 <= fill_bits <= 6:
        raise PackingError(f"fill_bits must be 0..6, got {fill_bits}")
    if not septets.isascii():
        bad = next(i for i, octet in enumerate(septets) if octet > 0x7F)
        raise PackingError(f"value 0x{septets[bad]:02X} at offset {bad} is not a septet")
    out = bytearray()
    acc = 0
    nbits = fill_bits
    for septet in septets:
        acc |= septet << nbits
        nbits += 7
        if nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(octets: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Unpack `count` septets from packed `octets`, skipping `fill_bits` leading bits.

    The count is needed because it is ambiguous from the octets alone: seven septets fill 49 of
    56 bits, and the remaining seven zero bits would read as an eighth septet ('@').

    Raises:
        PackingError: `fill_bits` is not in 0..6, `count` is negative, or `octets` is too short.
    """
    if not 0 <= fill_bits <= 6:
        raise PackingError(f"fill_bits must be 0..6, got {fill_bits}")
    if count < 0:
        raise PackingError(f"septet count must not be negative, got {count}")
    if fill_bits + 7 * count > 8 * len(octets):
        raise PackingError(
            f"{len(octets)} octets cannot hold {count} septets after {fill_bits} fill bits"
        )
    out = bytearray()
    acc = 0
    nbits = -fill_bits
    for octet in octets:
        if len(out) == count:
            break
        if nbits < 0:
            acc = octet >> fill_bits
            nbits = 8 - fill_bits
        else:
            acc |= octet << nbits
            nbits += 8
        while nbits >= 7 and len(out) < count:
            out.append(acc & 0x7F)
            acc >>= 7
            nbits -= 7
    return bytes(out)


def encode_ucs2(text: str) -> bytes:
    """Encode as UTF-16BE; characters outside the BMP become surrogate pairs.

    Raises:
        UnencodableCharacter: the text contains a lone surrogate.
    """
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise UnencodableCharacter(text[exc.start], exc.start, Encoding.UCS2) from None


def decode_ucs2(data: bytes, *, strict: bool = True) -> str:
    """Decode UTF-16BE.

    Args:
        data: The octets.
        strict: When false, an odd trailing octet or an unpaired surrogate becomes U+FFFD (what a
            handset shows when a sender split a surrogate pair across parts).

    Raises:
        DecodingError: in strict mode, for an odd length or an unpaired surrogate.
    """
    try:
        return data.decode("utf-16-be", errors="strict" if strict else "replace")
    except UnicodeDecodeError as exc:
        raise DecodingError(Encoding.UCS2, exc.start, exc.reason) from None


def encode(text: str, encoding: Encoding) -> bytes:
    """Encode `text` as it travels in SMPP `short_message` / `message_payload`.

    GSM-7 is unpacked (one septet per octet); UCS-2 is UTF-16BE; Latin-1 is ISO-8859-1; 8-bit data
    is UTF-8.

    Raises:
        UnencodableCharacter: a character has no representation in `encoding`.
    """
    if encoding is Encoding.GSM7:
        return encode_gsm7(text)
    if encoding is Encoding.UCS2:
        return encode_ucs2(text)
    codec = "latin-1" if encoding is Encoding.LATIN1 else "utf-8"
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise UnencodableCharacter(text[exc.start], exc.start, encoding) from None


def decode(data: bytes, encoding: Encoding, *, strict: bool = True) -> str:
    """Decode octets produced by `encode` (the inverse of `encode` in strict mode).

    Args:
        data: The octets (unpacked septets for GSM-7).
        encoding: The encoding they are in.
        strict: When false, render invalid input as a handset would instead of raising.

    Raises:
        DecodingError: in strict mode, when `data` is not valid in `encoding`.
    """
    if encoding is Encoding.GSM7:
        return decode_gsm7(data, strict=strict)
    if encoding is Encoding.UCS2:
        return decode_ucs2(data, strict=strict)
    if encoding is Encoding.LATIN1:
        return data.decode("latin-1")
    try:
        return data.decode("utf-8", errors="strict" if strict else "replace")
    except UnicodeDecodeError as exc:
        raise DecodingError(Encoding.BINARY, exc.start, exc.reason) from None


def code_units(text: str, encoding: Encoding) -> int:
    """Length of `text` in the unit that per-part limits count for `encoding`.

    Septets for GSM-7 (an extension character is 2), UTF-16 code units for UCS-2 (a character
    outside the BMP is 2), octets for Latin-1 and 8-bit data.

    Raises:
        UnencodableCharacter: a character has no representation in `encoding`.
    """
    if encoding is Encoding.GSM7:
        return gsm7_septets(text)
    if encoding is Encoding.UCS2:
        return len(encode_ucs2(text)) // 2
    return len(encode(text, encoding))


_DATA_CODING_DECODE: Final[dict[int, Encoding]] = {
    # 0x00 is the SMSC default alphabet: a parameter, see encoding_for_data_coding.
    0x01: Encoding.LATIN1,  # IA5 (ITU-T T.50 IRV) = ASCII, a subset of Latin-1
    0x02: Encoding.BINARY,  # octet unspecified (8-bit binary)
    0x03: Encoding.LATIN1,
    0x04: Encoding.BINARY,
    0x08: Encoding.UCS2,
}


def encoding_for_data_coding(
    data_coding: int, *, smsc_default: Encoding = Encoding.GSM7
) -> Encoding:
    """The encoding to decode a message received with `data_coding` (SMPP 3.4 §5.2.19).

    * 0x00 "SMSC default alphabet" -> `smsc_default` (GSM-7 unless the SMSC is set up otherwise).
    * 0x01 IA5 -> Latin-1. IA5 (ITU-T T.50 International Reference Version) is 7-bit ASCII, and
      ASCII is the lower half of Latin-1, so decoding as Latin-1 is exact for every valid IA5 octet
      and degrades gracefully on invalid ones. (Some SMSCs, e.g. 8x8, treat 0x01 as GSM-7 instead;
      an SMSC emulating that can map 0x01 itself before calling this.)
    * 0x02 and 0x04 -> 8-bit data; 0x03 -> Latin-1; 0x08 -> UCS-2.
    * TS 23.038 §4 data coding groups: 0xC0-0xDF (message waiting, GSM-7) -> GSM-7,
      0xE0-0xEF (message waiting, UCS-2) -> UCS-2, 0xF0-0xFF -> 8-bit data when bit 2 is set,
      else GSM-7.

    Raises:
        UnsupportedDataCoding: any other value (the national encodings 0x05-0x0E, reserved values,
            compressed or out-of-range values).
    """
    if not 0 <= data_coding <= 0xFF:
        raise UnsupportedDataCoding(data_coding)
    if data_coding == 0x00:
        return smsc_default
    if data_coding in _DATA_CODING_DECODE:
        return _DATA_CODING_DECODE[data_coding]
    group = data_coding & 0xF0
    if group in (0xC0, 0xD0):
        return Encoding.GSM7
    if group == 0xE0:
        return Encoding.UCS2
    if group == 0xF0:
        return Encoding.BINARY if data_coding & 0x04 else Encoding.GSM7
    raise UnsupportedDataCoding(data_coding)
