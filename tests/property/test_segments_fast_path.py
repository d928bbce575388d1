"""The one-part GSM-7 fast path of `sms.segments.plan` gives the general planner's result.

`plan` answers a GSM-7 text that fits one part without the general planner (`_plan`); for
every text, profile, method, reference and forced encoding the two must agree exactly (equal
`Plan`, or the same exception type and message).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sms.alphabet import GSM7_BASIC, Encoding
from sms.segments import PROFILES, Method, Plan, Profile, _one_part_gsm7, _plan, plan

GSM_CHARS = sorted((set(GSM7_BASIC) - {"\x1b"}) | set("\f^{}\\[~]|€"))
GSM = st.sampled_from(GSM_CHARS)
MIXED = st.sampled_from(["a", "€", "[", "Z", " ", "é", "あ", "😀"])

#: Around the one-part edge (160 septets), extension characters counting 2.
texts = st.one_of(
    st.text(alphabet=GSM, max_size=170),
    st.text(alphabet=MIXED, max_size=170),
    st.builds(lambda k, tail: "x" * k + tail, st.integers(150, 162), st.text(GSM, max_size=4)),
    st.characters(exclude_categories=["Cs"]).map(lambda c: c * 3),
)
profiles = st.one_of(
    st.sampled_from(sorted(PROFILES.values(), key=lambda p: p.name)),
    st.builds(
        lambda septets: Profile("tight", 1, None, max_septets=septets),
        st.integers(1, 170),
    ),
)


def _outcome(call: object) -> Plan | tuple[str, str]:
    try:
        result = call()  # type: ignore[operator]
    except Exception as exc:  # the same refusal, said the same way
        return type(exc).__name__, str(exc)
    assert isinstance(result, Plan)
    return result


@given(
    text=texts,
    profile=profiles,
    method=st.sampled_from(list(Method)),
    reference=st.integers(0, 255),
    encoding=st.sampled_from([None, Encoding.GSM7]),
)
def test_fast_path_equals_general_planner(
    text: str, profile: Profile, method: Method, reference: int, encoding: Encoding | None
) -> None:
    fast = _outcome(
        lambda: plan(text, profile, method=method, reference=reference, encoding=encoding)
    )
    full = _outcome(lambda: _plan(text, profile, method, reference, encoding))
    assert fast == full


@given(text=st.text(alphabet=GSM, max_size=160), method=st.sampled_from(list(Method)))
def test_fast_path_taken_for_short_gsm7(text: str, method: Method) -> None:
    taken = _one_part_gsm7(text, PROFILES["generic"], method, 0)
    fits = len(text) + sum(text.count(c) for c in "\f^{}\\[~]|€") <= 160
    assert (taken is not None) == fits
    if taken is not None:
        assert taken == _plan(text, PROFILES["generic"], method, 0, None)
