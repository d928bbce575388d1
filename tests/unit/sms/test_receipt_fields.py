"""`sms.receipt.receipt_fields` gives `parse_receipt`'s id, stat, err and done date (as epoch
seconds) for any text, with and without the exact Appendix B layout, and refuses the same."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sms.receipt import (
    Receipt,
    ReceiptFields,
    ReceiptParseError,
    parse_receipt,
    receipt_fields,
)

DATES = st.sampled_from(["2611241200", "261124120059", "2613241200", "0000000000", "x"])
WORDS = st.sampled_from(["DELIVRD", "UNDELIV", "", "x y", "REJECTD"])

appendix_b = st.builds(
    lambda i, sub, d1, d2, stat, err, tail: (
        f"id:{i} sub:{sub} dlvrd:001 submit date:{d1} done date:{d2} stat:{stat} err:{err}"
        f" text:{tail}"
    ),
    st.text("abc0123456789-", min_size=0, max_size=12),
    st.sampled_from(["001", "1", "x"]),
    DATES,
    DATES,
    WORDS,
    st.sampled_from(["000", "X1", ""]),
    st.text(max_size=20),
)
texts = appendix_b | st.text(max_size=120) | appendix_b.map(lambda t: t.replace(" ", "  ", 1))


def _outcome(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except ReceiptParseError as exc:
        return ("refused", str(exc))


@given(text=texts)
def test_fields_equal_parse_receipt(text: str) -> None:
    receipt = _outcome(lambda: parse_receipt(text))
    fields = _outcome(lambda: receipt_fields(text))
    if isinstance(receipt, tuple):
        assert fields == receipt  # refused, with the same message
        return
    assert isinstance(fields, ReceiptFields)
    assert isinstance(receipt, Receipt)
    assert fields.message_id == receipt.message_id
    assert fields.stat == receipt.stat
    assert fields.err == receipt.err
    done = receipt.done_date
    assert fields.done_at == (None if done is None else done.timestamp())


def test_appendix_b_example() -> None:
    text = (
        "id:77 sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD"
        " err:000 text:hi"
    )
    assert tuple(receipt_fields(text)) == ("77", "DELIVRD", "000", 1795521660.0)
