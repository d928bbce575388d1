"""Properties of sms.segments.plan and the Reassembler, for any text.

The oracles here are computed independently of the code under test: the GSM extension set and
the UTF-16 code-unit count are written out below, not imported from sms.alphabet.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms.alphabet import GSM7_BASIC, Encoding, UnencodableCharacter, decode, unpack_septets
from sms.segments import (
    PROFILES,
    MessageTooLong,
    Method,
    Part,
    Plan,
    Profile,
    Reassembled,
    Reassembler,
    plan,
)
from sms.udh import Concat, split_udh

EXTENSION = set("\f^{}\\[~]|€")
GSM_CHARS = sorted((set(GSM7_BASIC) - {"\x1b"}) | EXTENSION)
SINGLE = {Encoding.GSM7: 160, Encoding.UCS2: 70, Encoding.LATIN1: 140, Encoding.BINARY: 140}
PER_PART = {
    Method.UDH8: {
        Encoding.GSM7: 153,
        Encoding.UCS2: 67,
        Encoding.LATIN1: 134,
        Encoding.BINARY: 134,
    },
    Method.UDH16: {
        Encoding.GSM7: 152,
        Encoding.UCS2: 66,
        Encoding.LATIN1: 133,
        Encoding.BINARY: 133,
    },
    Method.SAR: SINGLE,
}

GSM_ALPHABET = st.sampled_from(GSM_CHARS)
ESCAPE_ALPHABET = st.sampled_from(["a", "€", "[", "]", "\\", "{"])
JP_ALPHABET = st.sampled_from(["漢", "あ", "ｱ", "😀", "👍", "🏽", "a", "€"])
# Any scalar value a str can carry in a real message: lone surrogates are not text and are
# refused (see test_lone_surrogates_are_refused).
ANY_ALPHABET = st.characters(exclude_categories=["Cs"])


def long_text(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Texts of a few parts up to beyond the JP limits: a repeated unit plus a tail."""
    return st.builds(
        lambda unit, reps, tail: (unit * reps + tail)[:1700],
        st.text(alphabet=alphabet, min_size=1, max_size=12),
        st.integers(1, 400),
        st.text(alphabet=alphabet, max_size=20),
    )


def boundary_text(filler: str, alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A run of one-unit filler ending right at a part boundary, then anything."""
    return st.builds(
        lambda k, rest: filler * k + rest,
        st.sampled_from([64, 65, 66, 67, 68, 69, 70, 131, 132, 133, 134, 135, 138, 139, 140])
        | st.sampled_from([150, 151, 152, 153, 154, 159, 160, 303, 304, 305, 306, 307, 660, 670]),
        st.text(alphabet=alphabet, max_size=30),
    )


texts = st.one_of(
    st.text(alphabet=GSM_ALPHABET, max_size=200),
    st.text(alphabet=ANY_ALPHABET, max_size=200),
    long_text(GSM_ALPHABET),
    long_text(ESCAPE_ALPHABET),
    long_text(JP_ALPHABET),
    long_text(ANY_ALPHABET),
    boundary_text("a", ESCAPE_ALPHABET),
    boundary_text("漢", JP_ALPHABET),
)
methods = st.sampled_from(list(Method))
profiles = st.sampled_from(list(PROFILES.values()))


def units_of(text: str, encoding: Encoding) -> int:
    """Independent length in the limit's unit."""
    if encoding is Encoding.GSM7:
        return len(text) + sum(ch in EXTENSION for ch in text)
    return len(text.encode("utf-16-be")) // 2


def cost(ch: str, encoding: Encoding) -> int:
    return units_of(ch, encoding)


def expected_encoding(text: str) -> Encoding:
    return Encoding.GSM7 if all(ch in GSM_CHARS for ch in text) else Encoding.UCS2


def reassemble(result: Plan, order: list[int]) -> list[Reassembled]:
    r = Reassembler()
    out: list[Reassembled] = []
    for index in order:
        part = result.parts[index]
        if part.udh:
            udh, body = split_udh(part.short_message)
            assert udh.concat == Concat(
                result.reference, part.total, part.seq, 8 if result.method is Method.UDH8 else 16
            )
            out += r.add("s", "d", udh.concat, body, 0.0, data_coding=result.data_coding)
        elif part.sar is not None:
            out += r.add(
                "s", "d", part.sar, part.short_message, 0.0, data_coding=result.data_coding
            )
        else:
            body = part.message_payload if part.message_payload is not None else part.short_message
            out += r.add("s", "d", None, body, 0.0, data_coding=result.data_coding)
    assert r.pending == 0
    return out


def check_part(part: Part, result: Plan) -> None:
    # a part decodes on its own, strictly: no lone ESC, no lone surrogate
    assert decode(part.payload, part.encoding) == part.text
    assert len(part.tp_ud) == part.octets
    if result.method is not Method.PAYLOAD:
        assert part.octets <= 140
        assert len(part.short_message) <= 254
    if part.encoding is Encoding.GSM7:
        assert part.payload[-1:] != b"\x1b"
        fill = (7 - len(part.udh) * 8 % 7) % 7
        packed = part.tp_ud[len(part.udh) :]
        assert unpack_septets(packed, len(part.payload), fill) == part.payload
    if part.encoding is Encoding.UCS2 and part.payload:
        assert not 0xD8 <= part.payload[-2] <= 0xDB  # never ends on a high surrogate
    assert part.code_units == units_of(part.text, part.encoding)


@given(text=texts, prof=profiles, method=methods, reference=st.integers(0, 255))
def test_plan_round_trips_or_refuses_with_true_counts(
    text: str, prof: Profile, method: Method, reference: int
) -> None:
    encoding = expected_encoding(text)
    n = units_of(text, encoding)
    try:
        result = plan(text, prof, method=method, reference=reference)
    except MessageTooLong as exc:
        refused: MessageTooLong | None = exc
    else:
        refused = None
    if refused is not None:
        limit = prof.limit(encoding)
        assert refused.chars == n
        assert refused.encoding is encoding
        assert (limit is not None and n > limit) or refused.parts > prof.max_parts
        per_part = PER_PART.get(method, PER_PART[Method.UDH8])[encoding]
        assert refused.parts >= (1 if n <= SINGLE[encoding] else math.ceil(n / per_part))
        return
    assert result.encoding is encoding
    assert "".join(part.text for part in result.parts) == text
    assert result.code_units == n
    assert [(p.seq, p.total) for p in result.parts] == [
        (i, len(result.parts)) for i in range(1, len(result.parts) + 1)
    ]
    assert len(result.parts) <= prof.max_parts
    for part in result.parts:
        check_part(part, result)
    if method is not Method.PAYLOAD and len(result.parts) > 1:
        cap = PER_PART[method][encoding]
        assert result.esm_class == (0x40 if method in (Method.UDH8, Method.UDH16) else 0)
        for this, following in zip(result.parts, result.parts[1:], strict=False):
            assert this.code_units <= cap
            # greedy: the next part's first character would not have fitted
            assert this.code_units + cost(following.text[0], encoding) > cap
    (message,) = reassemble(result, list(range(len(result.parts))))
    assert message.complete
    assert message.text == text


@given(text=texts, method=st.sampled_from([Method.UDH8, Method.UDH16, Method.SAR]), data=st.data())
def test_reassembly_in_any_order_with_duplicates(
    text: str, method: Method, data: st.DataObject
) -> None:
    result = plan(text[:600], method=method, reference=7)
    indexes = list(range(len(result.parts)))
    order = data.draw(st.permutations(indexes))
    # Copies of parts other than the one that arrives last; a copy arriving after completion
    # would (rightly) start a new message. A single message has no concatenation info at all.
    others = order[:-1]
    extra = data.draw(st.lists(st.sampled_from(others), max_size=3)) if others else []
    full = order[:-1] + extra + order[-1:]
    (message,) = reassemble(result, full)
    assert message.text == text[:600]
    assert message.duplicates == len(extra)


@given(text=texts)
def test_chosen_encoding_is_the_cheapest_valid_one(text: str) -> None:
    auto = plan(text)
    assert auto.encoding is expected_encoding(text)
    ucs2 = plan(text, encoding=Encoding.UCS2)
    assert len(auto.parts) <= len(ucs2.parts)
    assert auto.units <= ucs2.units


@given(text=texts, method=methods)
def test_units_follow_the_tariff_rule_whatever_the_method(text: str, method: Method) -> None:
    result = plan(text, method=method)
    n = units_of(text, result.encoding)
    single = {Encoding.GSM7: 160, Encoding.UCS2: 70}[result.encoding]
    per_part = {Encoding.GSM7: 153, Encoding.UCS2: 67}[result.encoding]
    assert result.units == (1 if n <= single else math.ceil(n / per_part))


@given(
    text=st.text(alphabet=st.sampled_from(["a", "漢", "あ"]), min_size=600, max_size=720),
    method=st.sampled_from([Method.UDH8, Method.SAR, Method.PAYLOAD]),
)
def test_jp_limit_is_exactly_the_profile_figure(text: str, method: Method) -> None:
    # BMP-only text: every character is one code unit, so 670 fits 10 x 67 and the profile's
    # 670 is the only limit that can bite.
    encoding = expected_encoding(text)
    n = units_of(text, encoding)
    try:
        result: Plan | MessageTooLong = plan(text, "jp-au", method=method)
    except MessageTooLong as exc:
        result = exc
    if isinstance(result, MessageTooLong):
        assert encoding is Encoding.UCS2
        assert n > 670
        assert (result.chars, result.max_chars) == (n, 670)
    else:
        assert encoding is Encoding.GSM7 or n <= 670
        assert result.units <= 10


@given(
    before=st.text(alphabet=ANY_ALPHABET, max_size=50),
    surrogate=st.characters(categories=["Cs"]),
    after=st.text(alphabet=ANY_ALPHABET, max_size=50),
    method=methods,
)
def test_lone_surrogates_are_refused(
    before: str, surrogate: str, after: str, method: Method
) -> None:
    """A Python str may hold a lone surrogate; it has no UCS-2/UTF-16 form, so plan() refuses
    it with the position instead of sending mojibake."""
    with pytest.raises(UnencodableCharacter) as caught:
        plan(before + surrogate + after, method=method)
    assert caught.value.char == surrogate
    assert caught.value.position == len(before)
