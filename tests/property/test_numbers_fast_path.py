"""`sms.numbers.parse_msisdn`'s shortcuts give the full parser's result.

An input of ASCII digits only skips `_clean` (NFKC and separator folding change nothing in
it), JP ranges are found by prefix lookup, and accepted numbers are built without the
``Msisdn`` field checks. The same input with a leading space (which `_clean` strips) takes the
full path; both must agree, and every number returned must pass the ``Msisdn`` checks.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sms.numbers import InvalidNumber, Msisdn, parse_msisdn

PREFIXES = ["", "0", "00", "010", "81", "090", "080", "070", "060", "0600", "020", "0200"]
PREFIXES += ["0204", "050", "0120", "0800", "0570", "0990", "0180", "03", "011", "9"]
digits = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(PREFIXES),
    st.text(alphabet="0123456789", max_size=16),
) | st.text(alphabet="0123456789", max_size=70)


def _outcome(raw: str, **flags: object) -> Msisdn | tuple[str, str | None]:
    try:
        number = parse_msisdn(raw, **flags)  # type: ignore[arg-type]
    except InvalidNumber as exc:
        return exc.reason.value, exc.e164
    return number


@given(
    raw=digits,
    allow_060=st.booleans(),
    allow_m2m=st.booleans(),
    country=st.sampled_from(["JP", None]),
)
def test_digits_shortcut_equals_full_parse(
    raw: str, allow_060: bool, allow_m2m: bool, country: str | None
) -> None:
    flags = {"allow_060": allow_060, "allow_m2m": allow_m2m, "default_country": country}
    fast = _outcome(raw, **flags)
    assert fast == _outcome(" " + raw, **flags)
    if isinstance(fast, Msisdn):
        assert Msisdn(fast.e164, fast.national, fast.country, fast.kind) == fast
        assert hash(Msisdn(fast.e164, fast.national, fast.country, fast.kind)) == hash(fast)
