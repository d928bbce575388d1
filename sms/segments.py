"""Segmentation of SMS text into parts (`plan`) and reassembly of received parts (`Reassembler`).

Invariants of `plan`:
    * No silent truncation. The parts, decoded and joined in order, are exactly the text; a text
      that does not fit raises `MessageTooLong` with the counts.
    * A part never ends inside a character: a GSM-7 extension character (ESC + code) and a UTF-16
      surrogate pair are atomic (TS 23.040 §9.2.3.24.1). Parts are filled greedily, which for an
      ordered sequence of atomic items gives the fewest parts.
    * Every non-PAYLOAD part fits 140 octets of TP-UD once packed with its UDH and fill bits.
    * Deterministic: the concatenation reference is the caller's, never random.
    * A GSM-7 text that fits one part (not PAYLOAD) is planned without the general splitter
      (`_one_part_gsm7`, the gateway's accept path); the result equals the general
      planner's (tests/property/test_segments_fast_path.py).

Decisions (with the reasons):
    * Per-part capacity is derived from the 140-octet TP-UD minus the UDH, so the figures of
      DOMAIN.md §6.1 fall out of one rule: GSM-7 160 / 153 (8-bit ref) / 152 (16-bit ref), UCS-2
      70 / 67 / 66 (odd UDH -> 139 usable octets), 8-bit and Latin-1 140 / 134 / 133.
    * SAR (sar_* TLVs, SMPP 3.4 §5.3.2.22-24) parts carry no UDH, so each part may use the full
      single-message capacity 160 / 70 / 140: the SMSC rebuilds the air UDH itself, and a part
      over the air limit could not go on the air as one message. (aiosmpplib 0.7.4 fills SAR parts
      to 254 octets instead; tests/unit/sms/test_differential.py records that.)
    * PAYLOAD sends the whole text in one submit_sm in `message_payload` (<= 65535 octets, the TLV
      length field), without UDH, even when it is short: the caller asked for it. The SMSC splits
      it; the profile's `max_parts` is checked against the parts that split would need with an
      8-bit-reference UDH.
    * Counting. `Part.code_units` / `Plan.code_units` count the unit the limits are stated in:
      septets for GSM-7 (an extension character is 2), UTF-16 code units for UCS-2 (an emoji is 2),
      octets for Latin-1 and 8-bit data. `Part.chars` / `Plan.chars` count as a user does: code
      points for GSM-7 and Latin-1 (`€` is one character, two septets), UTF-16 code units for
      UCS-2 (so an emoji counts 2, as Japanese carriers and Telnyx/Twilio count), octets for 8-bit.
    * Profile limits are per encoding: `Profile.max_chars` is in UCS-2 code units (the "660/670
      characters" the Japanese carriers advertise), `max_septets` applies to GSM-7 (1530 = 10 x 153)
      and `max_octets` to Latin-1 / 8-bit data (1340 = 10 x 134).
    * Billing units follow the tariff rule of DOMAIN.md §1.5/§6.1 whatever the method:
      1 if n <= 160 (GSM-7) / 70 (UCS-2) / 140 (8-bit) else ceil(n / 153 / 67 / 134), with n in
      code units. They can differ from `len(parts)` (16-bit references, SAR, PAYLOAD, or an atomic
      character pushed to the next part).

Invariants of `Reassembler` (the handset / MO side):
    * Pure: the time is the `now` argument, never read. Output depends only on the calls made.
    * Parts are keyed by (source, destination, reference, total); out-of-order parts are put in
      order; a duplicate seq is kept once (the first copy) and counted.
    * Nothing is dropped silently: every message that leaves does so as a `Reassembled`, flagged
      `complete`, or incomplete with its `missing` seqs and a `reason` (expired after `timeout`
      from its first part, evicted as the oldest when `max_pending` is reached, or drained).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from sms.alphabet import (
    DATA_CODING,
    GSM7_EXTENSION_CHARS,
    Encoding,
    choose_encoding,
    decode,
    encode,
    encode_gsm7,
    encoding_for_data_coding,
    is_gsm7,
    pack_septets,
    udh_fill_bits,
    udh_septets,
)
from sms.errors import SmsError
from sms.udh import Concat, Udh

__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_PROFILE",
    "DEFAULT_REASSEMBLY_TIMEOUT",
    "ESM_CLASS_UDHI",
    "MESSAGE_PAYLOAD_MAX_OCTETS",
    "PROFILES",
    "TP_UD_OCTETS",
    "UDH_LENGTH",
    "FlushReason",
    "InvalidReference",
    "InvalidSar",
    "MessageTooLong",
    "Method",
    "Part",
    "Plan",
    "Profile",
    "Reassembled",
    "Reassembler",
    "Sar",
    "SegmentationError",
    "UnknownProfile",
    "billing_units",
    "capacity",
    "get_profile",
    "plan",
]

#: Octets of TP-UD in one short message (TS 23.040 §9.2.3.24).
TP_UD_OCTETS: Final[int] = 140
#: Largest `message_payload` (SMPP 3.4 §5.3.2.32: the TLV length field is two octets).
MESSAGE_PAYLOAD_MAX_OCTETS: Final[int] = 0xFFFF
#: esm_class bit that says `short_message` starts with a UDH (SMPP 3.4 §5.2.12).
ESM_CLASS_UDHI: Final[int] = 0x40
#: Handsets give up on missing parts after this many seconds (DOMAIN.md §6.1, an assumption).
DEFAULT_REASSEMBLY_TIMEOUT: Final[float] = 24 * 3600.0
#: Default bound on messages waiting for parts in one `Reassembler`.
DEFAULT_MAX_PENDING: Final[int] = 1024


class Method(StrEnum):
    """How a long message is carried over SMPP."""

    UDH8 = "udh8"
    """Concatenation UDH with an 8-bit reference (IEI 0x00), esm_class UDHI."""
    UDH16 = "udh16"
    """Concatenation UDH with a 16-bit reference (IEI 0x08), esm_class UDHI."""
    SAR = "sar"
    """sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs, no UDH."""
    PAYLOAD = "payload"
    """The whole text in one message_payload TLV; the SMSC splits it."""


#: UDH octets (UDHL included) of the concatenation header each UDH method adds to every part.
UDH_LENGTH: Final[dict[Method, int]] = {Method.UDH8: 6, Method.UDH16: 7}


class SegmentationError(SmsError):
    """Base class of errors from planning or reassembling parts."""


class MessageTooLong(SegmentationError):
    """The text exceeds the profile's character limit or part limit.

    Attributes:
        chars: Length of the text in code units (the unit the limit is stated in: septets for
            GSM-7, UTF-16 code units for UCS-2, octets for 8-bit).
        max_chars: The profile's limit for this encoding (None when it has none).
        parts: Parts the text needs with this method.
        max_parts: The profile's part limit.
        encoding: The encoding used.
        profile: The profile's name.
    """

    def __init__(
        self,
        *,
        chars: int,
        max_chars: int | None,
        parts: int,
        max_parts: int,
        encoding: Encoding,
        profile: str,
    ) -> None:
        self.chars = chars
        self.max_chars = max_chars
        self.parts = parts
        self.max_parts = max_parts
        self.encoding = encoding
        self.profile = profile
        limit = "no limit" if max_chars is None else f"max {max_chars}"
        super().__init__(
            f"message too long for profile {profile}: {chars} {encoding} code units ({limit}), "
            f"{parts} parts (max {max_parts})"
        )


class InvalidReference(SegmentationError):
    """The concatenation reference does not fit the method's reference field."""


class UnknownProfile(SegmentationError):
    """No built-in profile has this name.

    Attributes:
        name: The name asked for.
        known: The names that exist.
    """

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown profile {name!r}; known profiles: {', '.join(known)}")


class InvalidSar(SegmentationError):
    """SAR values out of range (reference 0..65535, total 1..255, seq 1..total)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Limits of a destination network or vendor."""

    name: str
    """Short identifier, e.g. `jp-au`."""
    max_parts: int
    """Most parts one message may have (1..255)."""
    max_chars: int | None
    """Most UCS-2 code units (the advertised "characters") in a message; None for no limit."""
    description: str = ""
    """One line for humans."""
    max_septets: int | None = None
    """Most GSM-7 septets in a message; None for no limit beyond `max_parts`."""
    max_octets: int | None = None
    """Most octets of Latin-1 / 8-bit data in a message; None for no limit beyond `max_parts`."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_parts <= 255:
            raise SegmentationError(f"profile {self.name}: max_parts must be 1..255")

    def limit(self, encoding: Encoding) -> int | None:
        """The code-unit limit that applies to a message in `encoding`."""
        if encoding is Encoding.UCS2:
            return self.max_chars
        if encoding is Encoding.GSM7:
            return self.max_septets
        return self.max_octets


_JP = "[assumption] A2P caps per DOMAIN.md §1.5/§6.1"
#: Built-in profiles by name.
PROFILES: Final[MappingProxyType[str, Profile]] = MappingProxyType(
    {
        p.name: p
        for p in (
            Profile("generic", 255, None, "the 3GPP limit: up to 255 parts, no character cap"),
            Profile("jp-docomo", 10, 660, f"NTT docomo: 10 parts, 660 chars. {_JP}", 1530, 1340),
            Profile("jp-au", 10, 670, f"KDDI au: 10 parts, 670 chars. {_JP}", 1530, 1340),
            Profile("jp-softbank", 10, 670, f"SoftBank: 10 parts, 670 chars. {_JP}", 1530, 1340),
            Profile("jp-rakuten", 10, 670, f"Rakuten: 10 parts, 670 chars. {_JP}", 1530, 1340),
        )
    }
)
#: Name of the profile used when none is given.
DEFAULT_PROFILE: Final[str] = "generic"


def get_profile(name: str) -> Profile:
    """The built-in profile called `name`.

    Raises:
        UnknownProfile: there is none; the error lists the known names.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(name, tuple(PROFILES)) from None


def capacity(encoding: Encoding, udh_length: int = 0) -> int:
    """Code units that fit in one 140-octet TP-UD after a UDH of `udh_length` octets.

    GSM-7: 160 minus the septets the UDH and its fill bits take (0 -> 160, 6 -> 153, 7 -> 152).
    UCS-2: whole code units in the octets left (0 -> 70, 6 -> 67, 7 -> 66).
    Latin-1 / 8-bit: the octets left (0 -> 140, 6 -> 134, 7 -> 133).
    """
    if encoding is Encoding.GSM7:
        return TP_UD_OCTETS * 8 // 7 - udh_septets(udh_length)
    if encoding is Encoding.UCS2:
        return (TP_UD_OCTETS - udh_length) // 2
    return TP_UD_OCTETS - udh_length


def billing_units(code_units: int, encoding: Encoding) -> int:
    """Billing units by the tariff rule (DOMAIN.md §1.5, §6.1), independent of the method.

    1 when the text fits one message (160 septets / 70 UCS-2 code units / 140 octets), otherwise
    one unit per 153 / 67 / 134 started, i.e. the part count of 8-bit-reference concatenation
    without the atomic-character effects.
    """
    if code_units <= capacity(encoding):
        return 1
    per_part = capacity(encoding, UDH_LENGTH[Method.UDH8])
    return -(-code_units // per_part)


#: GSM-7 septets of a one-part message, and its data_coding (for `_one_part_gsm7`).
_GSM7_SINGLE: Final[int] = TP_UD_OCTETS * 8 // 7
_GSM7_DATA_CODING: Final[int] = DATA_CODING[Encoding.GSM7]


def _payload_capacity(encoding: Encoding) -> int:
    return (
        MESSAGE_PAYLOAD_MAX_OCTETS // 2 if encoding is Encoding.UCS2 else MESSAGE_PAYLOAD_MAX_OCTETS
    )


@dataclass(frozen=True, slots=True)
class Sar:
    """SAR TLV values of one part (SMPP 3.4 §5.3.2.22-24)."""

    reference: int
    """sar_msg_ref_num, 0..65535."""
    total: int
    """sar_total_segments, 1..255."""
    seq: int
    """sar_segment_seqnum, 1..total."""

    def __post_init__(self) -> None:
        if not 0 <= self.reference <= 0xFFFF:
            raise InvalidSar(f"sar_msg_ref_num {self.reference} is not 0..65535")
        if not 1 <= self.total <= 0xFF:
            raise InvalidSar(f"sar_total_segments {self.total} is not 1..255")
        if not 1 <= self.seq <= self.total:
            raise InvalidSar(f"sar_segment_seqnum {self.seq} is not 1..{self.total}")


@dataclass(frozen=True, slots=True)
class Part:
    """One submit_sm worth of a planned message."""

    seq: int
    """1-based position in the message."""
    total: int
    """Number of parts in the message."""
    encoding: Encoding
    """Encoding of `payload`."""
    method: Method
    """How the message is carried (decides `short_message` vs `message_payload`)."""
    chars: int
    """Characters as a user counts them (see the module docstring)."""
    code_units: int
    """Septets (GSM-7), UTF-16 code units (UCS-2) or octets (8-bit): what the limits count."""
    payload: bytes
    """Encoded content without UDH; GSM-7 as unpacked septets, one per octet."""
    udh: bytes
    """The user data header, UDHL included; b"" when there is none."""
    sar: Sar | None
    """SAR TLV values when the method is SAR and there is more than one part."""

    @property
    def short_message(self) -> bytes:
        """SMPP `short_message`: UDH + payload; b"" for PAYLOAD (use `message_payload`)."""
        if self.method is Method.PAYLOAD:
            return b""
        return self.udh + self.payload

    @property
    def message_payload(self) -> bytes | None:
        """SMPP `message_payload` TLV value for PAYLOAD, else None."""
        return self.payload if self.method is Method.PAYLOAD else None

    @property
    def octets(self) -> int:
        """TP-UD octets on the air: UDH + content, GSM-7 packed after its fill bits.

        For PAYLOAD this is the size of the whole text packed as one TP-UD would be; the SMSC
        splits it into air messages.
        """
        if self.encoding is Encoding.GSM7:
            return -(-(udh_septets(len(self.udh)) + len(self.payload)) * 7 // 8)
        return len(self.udh) + len(self.payload)

    @property
    def tp_ud(self) -> bytes:
        """The TP-UD octets themselves (UDH, then GSM-7 packed after the fill bits)."""
        if self.encoding is Encoding.GSM7:
            return self.udh + pack_septets(self.payload, udh_fill_bits(len(self.udh)))
        return self.udh + self.payload

    @property
    def text(self) -> str:
        """The part's text, decoded from `payload`."""
        return decode(self.payload, self.encoding)


@dataclass(frozen=True, slots=True)
class Plan:
    """How one text is sent: encoding, method and the parts, in order."""

    text: str
    """The text as given."""
    encoding: Encoding
    """The encoding of every part."""
    data_coding: int
    """SMPP data_coding for `encoding`."""
    method: Method
    """How the parts are linked."""
    reference: int
    """Concatenation / SAR reference (unused when there is one part)."""
    profile: Profile
    """The limits the plan was checked against."""
    parts: tuple[Part, ...]
    """The parts, seq 1..n."""
    units: int
    """Billing units (tariff rule, see `billing_units`)."""
    esm_class: int
    """0x40 (UDHI) when the parts carry a UDH, else 0."""

    @property
    def chars(self) -> int:
        """Characters as a user counts them (sum over the parts)."""
        return sum(part.chars for part in self.parts)

    @property
    def code_units(self) -> int:
        """Length in the encoding's limit unit (sum over the parts)."""
        return sum(part.code_units for part in self.parts)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (the `smsh plan --json` document)."""
        return {
            "text": self.text,
            "encoding": str(self.encoding),
            "data_coding": self.data_coding,
            "method": str(self.method),
            "reference": self.reference,
            "profile": self.profile.name,
            "esm_class": self.esm_class,
            "chars": self.chars,
            "code_units": self.code_units,
            "units": self.units,
            "parts": [
                {
                    "seq": part.seq,
                    "total": part.total,
                    "chars": part.chars,
                    "code_units": part.code_units,
                    "octets": part.octets,
                    "udh_hex": part.udh.hex(),
                    "payload_hex": part.payload.hex(),
                    "sar": None
                    if part.sar is None
                    else {
                        "reference": part.sar.reference,
                        "total": part.sar.total,
                        "seq": part.sar.seq,
                    },
                }
                for part in self.parts
            ],
        }


def _costs(text: str, encoding: Encoding, encoded: bytes) -> list[int] | None:
    """Code units of each character, or None when every character costs one."""
    units = len(encoded) // 2 if encoding is Encoding.UCS2 else len(encoded)
    if units == len(text):
        return None
    if encoding is Encoding.GSM7:
        return [1 + (ch in GSM7_EXTENSION_CHARS) for ch in text]
    if encoding is Encoding.UCS2:
        return [1 + (ord(ch) > 0xFFFF) for ch in text]
    return [len(ch.encode("utf-8")) for ch in text]  # 8-bit data: UTF-8 octets


# A span is (first char, end char, first code unit, end code unit).
_Span = tuple[int, int, int, int]


def _split(n_chars: int, costs: list[int] | None, total: int, cap: int) -> list[_Span]:
    """Greedy split into spans of at most `cap` code units, never inside a character."""
    if costs is None:
        return [
            (i, min(i + cap, n_chars), i, min(i + cap, n_chars)) for i in range(0, n_chars, cap)
        ]
    spans: list[_Span] = []
    first_char = first_unit = unit = 0
    for index, cost in enumerate(costs):
        if unit + cost - first_unit > cap:
            spans.append((first_char, index, first_unit, unit))
            first_char, first_unit = index, unit
        unit += cost
    spans.append((first_char, n_chars, first_unit, total))
    return spans


def _check_reference(method: Method, reference: int) -> None:
    bits = 8 if method is Method.UDH8 else 16
    if not 0 <= reference < (1 << bits):
        raise InvalidReference(
            f"reference {reference} does not fit the {bits}-bit reference of method {method}"
        )


def plan(
    text: str,
    profile: str | Profile = DEFAULT_PROFILE,
    *,
    method: Method = Method.UDH8,
    reference: int = 0,
    encoding: Encoding | None = None,
) -> Plan:
    """Plan how to send `text`: pick the encoding, split it into parts, count billing units.

    Args:
        text: The message text.
        profile: A `Profile` or the name of a built-in one (see `PROFILES`).
        method: How parts are linked (UDH with 8- or 16-bit reference, SAR TLVs, message_payload).
        reference: Concatenation reference, 0..255 for UDH8, 0..65535 otherwise. It is the
            caller's job to vary it between messages to the same destination.
        encoding: Force an encoding; None picks the cheapest exact one (`choose_encoding`).

    Returns:
        The plan. A text that fits one message gives one part without UDH or SAR (except PAYLOAD,
        which always uses message_payload).

    Raises:
        UnknownProfile: `profile` names no built-in profile.
        InvalidReference: `reference` does not fit the method's field.
        UnencodableCharacter: `encoding` was forced and cannot represent a character.
        MessageTooLong: the text exceeds the profile's limits (or 65535 octets for PAYLOAD).
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    method = Method(method)
    _check_reference(method, reference)
    if method is not Method.PAYLOAD and (encoding is None or encoding is Encoding.GSM7):
        single_part = _one_part_gsm7(text, prof, method, reference)
        if single_part is not None:
            return single_part
    return _plan(text, prof, method, reference, encoding)


def _one_part_gsm7(text: str, prof: Profile, method: Method, reference: int) -> Plan | None:
    """The plan of a GSM-7 text that fits one part, or None when `_plan` must decide.

    The accept path's common case (a short GSM-7 text) without the general planner's
    work: the result equals ``_plan(text, prof, method, reference, None)`` (and with
    ``Encoding.GSM7`` forced), which tests/property/test_segments_fast_path.py checks.
    PAYLOAD is never taken here (it always goes through `_plan`).
    """
    if not is_gsm7(text):
        return None  # UCS-2 (or an unencodable forced GSM-7): the planner decides/raises
    encoded = encode_gsm7(text)
    total = len(encoded)
    if total > _GSM7_SINGLE:
        return None
    limit = prof.max_septets
    if limit is not None and total > limit:
        return None  # MessageTooLong, with the planner's counts
    # Built through the slots' own setters (what the frozen dataclasses' __init__ does with
    # object.__setattr__, at a third of the cost); every field is set (see _PART_FIELDS).
    part = _new(Part)
    _part_seq(part, 1)
    _part_total(part, 1)
    _part_encoding(part, Encoding.GSM7)
    _part_method(part, method)
    _part_chars(part, len(text))
    _part_code_units(part, total)
    _part_payload(part, encoded)
    _part_udh(part, b"")
    _part_sar(part, None)
    result = _new(Plan)
    _plan_text(result, text)
    _plan_encoding(result, Encoding.GSM7)
    _plan_data_coding(result, _GSM7_DATA_CODING)
    _plan_method(result, method)
    _plan_reference(result, reference)
    _plan_profile(result, prof)
    _plan_parts(result, (part,))
    _plan_units(result, 1)
    _plan_esm_class(result, 0)
    return result


_new = object.__new__
_PART_FIELDS: Final = (
    "seq",
    "total",
    "encoding",
    "method",
    "chars",
    "code_units",
    "payload",
    "udh",
    "sar",
)
_PLAN_FIELDS: Final = (
    "text",
    "encoding",
    "data_coding",
    "method",
    "reference",
    "profile",
    "parts",
    "units",
    "esm_class",
)
# The fast path sets exactly these: a field added to Part or Plan must be added here too.
assert tuple(f.name for f in fields(Part)) == _PART_FIELDS
assert tuple(f.name for f in fields(Plan)) == _PLAN_FIELDS
(
    _part_seq,
    _part_total,
    _part_encoding,
    _part_method,
    _part_chars,
    _part_code_units,
    _part_payload,
    _part_udh,
    _part_sar,
) = (vars(Part)[name].__set__ for name in _PART_FIELDS)
(
    _plan_text,
    _plan_encoding,
    _plan_data_coding,
    _plan_method,
    _plan_reference,
    _plan_profile,
    _plan_parts,
    _plan_units,
    _plan_esm_class,
) = (vars(Plan)[name].__set__ for name in _PLAN_FIELDS)


def _plan(
    text: str, prof: Profile, method: Method, reference: int, encoding: Encoding | None
) -> Plan:
    """The general planner behind `plan` (arguments already checked)."""
    enc = choose_encoding(text) if encoding is None else Encoding(encoding)
    encoded = encode(text, enc)
    costs = _costs(text, enc, encoded)
    octets_per_unit = 2 if enc is Encoding.UCS2 else 1
    total = len(encoded) // octets_per_unit
    single = capacity(enc)

    if method is Method.PAYLOAD:
        spans: list[_Span] = [(0, len(text), 0, total)]
        smsc_cap = capacity(enc, UDH_LENGTH[Method.UDH8])  # what the SMSC will split into
        air_parts = 1 if total <= single else len(_split(len(text), costs, total, smsc_cap))
        hard_limit: int | None = _payload_capacity(enc)
    else:
        cap = capacity(enc, UDH_LENGTH.get(method, 0))
        spans = (
            [(0, len(text), 0, total)] if total <= single else _split(len(text), costs, total, cap)
        )
        air_parts = len(spans)
        hard_limit = None

    limits = [x for x in (prof.limit(enc), hard_limit) if x is not None]
    max_units = min(limits) if limits else None
    if (max_units is not None and total > max_units) or air_parts > prof.max_parts:
        raise MessageTooLong(
            chars=total,
            max_chars=max_units,
            parts=air_parts,
            max_parts=prof.max_parts,
            encoding=enc,
            profile=prof.name,
        )

    n = len(spans)
    concat = n > 1 and method in (Method.UDH8, Method.UDH16)
    parts = tuple(
        Part(
            seq=seq,
            total=n,
            encoding=enc,
            method=method,
            chars=(u1 - u0) if enc in (Encoding.UCS2, Encoding.BINARY) else (c1 - c0),
            code_units=u1 - u0,
            payload=encoded[u0 * octets_per_unit : u1 * octets_per_unit],
            udh=Udh((Concat(reference, n, seq, 8 if method is Method.UDH8 else 16),)).to_bytes()
            if concat
            else b"",
            sar=Sar(reference, n, seq) if n > 1 and method is Method.SAR else None,
        )
        for seq, (c0, c1, u0, u1) in enumerate(spans, start=1)
    )
    return Plan(
        text=text,
        encoding=enc,
        data_coding=DATA_CODING[enc],
        method=method,
        reference=reference,
        profile=prof,
        parts=parts,
        units=billing_units(total, enc),
        esm_class=ESM_CLASS_UDHI if concat else 0,
    )


# ---------------------------------------------------------------------------------------------
# Reassembly (receiving side)


class FlushReason(StrEnum):
    """Why a message left the `Reassembler`."""

    COMPLETE = "complete"
    """Every part arrived."""
    EXPIRED = "expired"
    """`timeout` passed since its first part; flushed with the parts that arrived."""
    EVICTED = "evicted"
    """It was the oldest pending message when `max_pending` was reached."""
    DRAINED = "drained"
    """`Reassembler.drain()` was called (e.g. at shutdown)."""


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A message leaving the `Reassembler`, complete or not."""

    source: str
    """Originating address."""
    destination: str
    """Destination address."""
    reference: int | None
    """Concatenation / SAR reference; None for a message that was not concatenated."""
    total: int
    """Parts the message announced."""
    text: str
    """The parts that arrived, each decoded as a handset would, joined in seq order."""
    payload: bytes
    """The bodies that arrived, joined in seq order (no UDH)."""
    received: tuple[int, ...]
    """Seqs that arrived, ascending."""
    missing: tuple[int, ...]
    """Seqs that never arrived, ascending (empty when complete)."""
    duplicates: int
    """Extra copies of already-received seqs that were discarded."""
    reason: FlushReason
    """Why it left."""
    first_seen: float
    """`now` of its first part."""
    last_seen: float
    """`now` of its latest part (duplicates included)."""

    @property
    def complete(self) -> bool:
        """True when every part arrived."""
        return not self.missing


_Key = tuple[str, str, int, int]


@dataclass(slots=True)
class _Pending:
    first_seen: float
    last_seen: float
    bodies: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    duplicates: int = 0


class Reassembler:
    """Collects concatenated parts into messages, as a handset or an MO receiver does.

    Call `add` for every received short message and `expire` when `next_deadline()` passes.
    `add` also flushes whatever has expired by its `now`, so the output depends only on the calls,
    not on how promptly a timer fires. `now` must not go backwards.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_REASSEMBLY_TIMEOUT,
        max_pending: int = DEFAULT_MAX_PENDING,
        smsc_default: Encoding = Encoding.GSM7,
    ) -> None:
        """Create an empty reassembler.

        Args:
            timeout: Seconds after a message's first part when it is flushed incomplete.
            max_pending: Most messages waiting for parts; one more flushes the oldest.
            smsc_default: Encoding of data_coding 0x00.

        Raises:
            SegmentationError: `timeout` is not positive or `max_pending` is below 1.
        """
        if timeout <= 0:
            raise SegmentationError(f"timeout must be positive, got {timeout}")
        if max_pending < 1:
            raise SegmentationError(f"max_pending must be at least 1, got {max_pending}")
        self._timeout = timeout
        self._max_pending = max_pending
        self._smsc_default = smsc_default
        # Insertion order is first-seen order, so the oldest message is always first.
        self._pending: dict[_Key, _Pending] = {}

    @property
    def pending(self) -> int:
        """Messages waiting for parts."""
        return len(self._pending)

    def next_deadline(self) -> float | None:
        """When the oldest pending message expires, or None when nothing is pending."""
        for entry in self._pending.values():
            return entry.first_seen + self._timeout
        return None

    def add(
        self,
        source: str,
        destination: str,
        part: Concat | Sar | None,
        body: bytes,
        now: float,
        *,
        data_coding: int,
    ) -> list[Reassembled]:
        """Take one received short message.

        Args:
            source: Originating address.
            destination: Destination address.
            part: Its place in a concatenated message: the `Concat` from its UDH, a `Sar` built
                from its sar_* TLVs, or None for a message that is not concatenated.
            body: The message content without UDH.
            now: The current time in seconds.
            data_coding: SMPP data_coding of this part (decides how `body` is decoded).

        Returns:
            Messages that left: those expired by `now`, an evicted one if this part started a new
            message while `max_pending` were waiting, and this part's message if it is now complete.

        Raises:
            UnsupportedDataCoding: `data_coding` cannot be decoded.
        """
        text = decode(
            body,
            encoding_for_data_coding(data_coding, smsc_default=self._smsc_default),
            strict=False,
        )
        out = self.expire(now)
        if part is None:
            out.append(
                Reassembled(
                    source=source,
                    destination=destination,
                    reference=None,
                    total=1,
                    text=text,
                    payload=body,
                    received=(1,),
                    missing=(),
                    duplicates=0,
                    reason=FlushReason.COMPLETE,
                    first_seen=now,
                    last_seen=now,
                )
            )
            return out
        key: _Key = (source, destination, part.reference, part.total)
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self._max_pending:
                oldest = next(iter(self._pending))
                out.append(self._flush(oldest, FlushReason.EVICTED))
            entry = self._pending[key] = _Pending(first_seen=now, last_seen=now)
        entry.last_seen = now
        if part.seq in entry.bodies:
            entry.duplicates += 1
        else:
            entry.bodies[part.seq] = (body, text)
        if len(entry.bodies) == part.total:
            out.append(self._flush(key, FlushReason.COMPLETE))
        return out

    def expire(self, now: float) -> list[Reassembled]:
        """Flush, flagged incomplete, every message whose first part is `timeout` old at `now`."""
        out: list[Reassembled] = []
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if entry.first_seen + self._timeout > now:
                break
            out.append(self._flush(key, FlushReason.EXPIRED))
        return out

    def drain(self) -> list[Reassembled]:
        """Flush every pending message, oldest first (e.g. at shutdown)."""
        return [self._flush(key, FlushReason.DRAINED) for key in list(self._pending)]

    def _flush(self, key: _Key, reason: FlushReason) -> Reassembled:
        entry = self._pending.pop(key)
        source, destination, reference, total = key
        seqs = tuple(sorted(entry.bodies))
        return Reassembled(
            source=source,
            destination=destination,
            reference=reference,
            total=total,
            text="".join(entry.bodies[seq][1] for seq in seqs),
            payload=b"".join(entry.bodies[seq][0] for seq in seqs),
            received=seqs,
            missing=tuple(seq for seq in range(1, total + 1) if seq not in entry.bodies),
            duplicates=entry.duplicates,
            reason=reason,
            first_seen=entry.first_seen,
            last_seen=entry.last_seen,
        )
