"""The gateway's GSM 03.38 codec (`gateway.esme.GSM_CODEC`) decodes exactly as
`sms.alphabet.decode_gsm7`, also on its ASCII fast path, and raises where it raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.esme import _GSM_AS_ASCII, GSM_CODEC
from sms.alphabet import DecodingError, decode_gsm7

ASCII_LIKE = st.binary(max_size=200).map(lambda b: bytes(_GSM_AS_ASCII[x % 85] for x in b))


def _outcome(data: bytes, errors: str) -> tuple[str, object]:
    try:
        return "ok", GSM_CODEC.decode(data, errors)
    except DecodingError as exc:
        return "error", str(exc)


def _reference(data: bytes, errors: str) -> tuple[str, object]:
    try:
        return "ok", (decode_gsm7(data, strict=errors == "strict"), len(data))
    except DecodingError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("errors", ["strict", "replace"])
@given(data=st.binary(max_size=200) | ASCII_LIKE)
def test_same_as_decode_gsm7(data: bytes, errors: str) -> None:
    assert _outcome(data, errors) == _reference(data, errors)


def test_the_fast_path_set_is_what_gsm_maps_to_ascii() -> None:
    assert len(_GSM_AS_ASCII) == 85
    for code in range(256):
        same = code < 0x80 and code != 0x1B and decode_gsm7(bytes((code,))) == chr(code)
        assert (code in _GSM_AS_ASCII) == same
    receipt = b"id:12345 sub:001 dlvrd:001 submit date:2511250150 stat:DELIVRD err:000 text:"
    assert GSM_CODEC.decode(receipt) == (receipt.decode(), len(receipt))
    # 0x40 is an inverted exclamation mark in GSM 03.38: not on the fast path
    assert GSM_CODEC.decode(memoryview(b"a@b")) == ("a\u00a1b", 3)
