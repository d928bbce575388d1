"""Properties of sms.udh: build/parse round trip, and parsing arbitrary bytes is total."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from sms.udh import Concat, InformationElement, Ports, RawIE, Udh, UdhError, parse_udh, split_udh

KNOWN = {0x00, 0x04, 0x05, 0x08}


@st.composite
def concats(draw: st.DrawFn) -> Concat:
    bits = draw(st.sampled_from([8, 16]))
    total = draw(st.integers(1, 255))
    return Concat(
        draw(st.integers(0, (1 << bits) - 1)),
        total,
        draw(st.integers(1, total)),
        8 if bits == 8 else 16,
    )


@st.composite
def ports(draw: st.DrawFn) -> Ports:
    bits = draw(st.sampled_from([8, 16]))
    top = (1 << bits) - 1
    return Ports(draw(st.integers(0, top)), draw(st.integers(0, top)), 8 if bits == 8 else 16)


raw_ies = st.builds(
    RawIE, st.integers(0, 255).filter(lambda iei: iei not in KNOWN), st.binary(max_size=20)
)
ies: st.SearchStrategy[InformationElement] = st.one_of(concats(), ports(), raw_ies)


@given(st.lists(ies, max_size=8), st.binary(max_size=40))
def test_build_parse_round_trip(elements: list[InformationElement], body: bytes) -> None:
    assume(1 + sum(len(ie.to_bytes()) for ie in elements) <= 140)
    udh = Udh(tuple(elements))
    raw = udh.to_bytes()
    assert raw[0] == len(raw) - 1
    assert parse_udh(raw) == udh
    assert split_udh(raw + body) == (udh, body)
    concat_ies = [ie for ie in elements if isinstance(ie, Concat)]
    assert udh.concat == (concat_ies[-1] if concat_ies else None)


@st.composite
def mutated_headers(draw: st.DrawFn) -> bytes:
    """A valid header + body with one octet overwritten: near misses of every kind."""
    elements = draw(st.lists(ies, min_size=1, max_size=3))
    raw = bytearray(Udh(tuple(elements)).to_bytes() + draw(st.binary(max_size=8)))
    raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


@given(st.one_of(st.binary(max_size=60), mutated_headers()), st.booleans())
def test_parsing_arbitrary_bytes_is_total_and_lossless(data: bytes, strict: bool) -> None:
    try:
        parsed: tuple[Udh, bytes] | UdhError = split_udh(data, strict=strict)
    except UdhError as exc:
        parsed = exc
    if isinstance(parsed, UdhError):
        assert parsed.offset is not None
        return
    udh, body = parsed
    assert udh.to_bytes() + body == data
