"""sms.segments.Reassembler: out of order, duplicates, missing parts, the pending bound."""

from __future__ import annotations

import pytest

from sms.alphabet import UnsupportedDataCoding
from sms.segments import (
    DEFAULT_REASSEMBLY_TIMEOUT,
    FlushReason,
    Method,
    Plan,
    Reassembled,
    Reassembler,
    Sar,
    SegmentationError,
    plan,
)
from sms.udh import Concat, split_udh

SRC, DST = "09012345678", "0312345678"
T0 = 1_767_225_600.0


def feed(
    r: Reassembler, result: Plan, order: list[int], now: float = T0, src: str = SRC
) -> list[Reassembled]:
    """Give the planned parts (by 1-based seq, in `order`) to the reassembler."""
    out: list[Reassembled] = []
    for seq in order:
        part = result.parts[seq - 1]
        info: Concat | Sar | None
        if part.udh:
            udh, body = split_udh(part.short_message)
            info = udh.concat
        elif part.message_payload is not None:
            info, body = None, part.message_payload
        else:
            info, body = part.sar, part.short_message
        out += r.add(src, DST, info, body, now, data_coding=result.data_coding)
    return out


def test_default_timeout_is_24_hours() -> None:
    assert DEFAULT_REASSEMBLY_TIMEOUT == 86_400.0


def test_in_order_parts_complete_the_message() -> None:
    r = Reassembler()
    result = plan("a" * 400, reference=9)
    out = feed(r, result, [1, 2])
    assert out == []
    assert r.pending == 1
    (msg,) = feed(r, result, [3])
    assert msg.complete
    assert msg.reason is FlushReason.COMPLETE
    assert msg.text == "a" * 400
    assert (msg.reference, msg.total, msg.received, msg.missing) == (9, 3, (1, 2, 3), ())
    assert msg.payload == b"a" * 400
    assert r.pending == 0


@pytest.mark.parametrize("order", [[3, 1, 2], [2, 3, 1], [3, 2, 1]])
def test_out_of_order_parts_are_put_in_order(order: list[int]) -> None:
    text = "漢" * 100 + "😀" * 20 + "end"
    result = plan(text)
    assert len(result.parts) == 3
    (msg,) = feed(Reassembler(), result, order)
    assert msg.text == text


def test_duplicates_are_kept_once_and_counted() -> None:
    r = Reassembler()
    result = plan("b" * 300)
    assert feed(r, result, [1, 1, 1]) == []
    (msg,) = feed(r, result, [2], now=T0 + 5)
    assert msg.text == "b" * 300
    assert msg.duplicates == 2
    assert msg.last_seen == T0 + 5
    assert msg.first_seen == T0


def test_duplicate_keeps_the_first_copy() -> None:
    r = Reassembler()
    r.add(SRC, DST, Concat(1, 2, 1), b"first", T0, data_coding=0)
    r.add(SRC, DST, Concat(1, 2, 1), b"other", T0, data_coding=0)
    (msg,) = r.add(SRC, DST, Concat(1, 2, 2), b"!", T0, data_coding=0)
    assert msg.text == "first!"
    assert msg.duplicates == 1


def test_missing_parts_are_flushed_after_the_timeout_flagged() -> None:
    r = Reassembler(timeout=60.0)
    result = plan("c" * 500)  # 4 parts
    feed(r, result, [1, 3])
    assert r.next_deadline() == T0 + 60.0
    assert r.expire(T0 + 59.9) == []
    (msg,) = r.expire(T0 + 60.0)
    assert not msg.complete
    assert msg.reason is FlushReason.EXPIRED
    assert msg.received == (1, 3)
    assert msg.missing == (2, 4)
    assert msg.text == "c" * 306  # the parts that arrived, as-is
    assert r.pending == 0
    assert r.next_deadline() is None


def test_add_flushes_what_expired_before_handling_the_part() -> None:
    # A late part after the deadline starts a new message; the old one leaves flagged incomplete.
    r = Reassembler(timeout=60.0)
    result = plan("d" * 200)
    feed(r, result, [1])
    out = feed(r, result, [2], now=T0 + 61)
    assert [m.reason for m in out] == [FlushReason.EXPIRED]
    assert out[0].missing == (2,)
    assert r.pending == 1  # part 2 waits as a new message


def test_bound_flushes_the_oldest_flagged() -> None:
    r = Reassembler(max_pending=2)
    r.add(SRC, DST, Concat(1, 2, 1), b"one", T0, data_coding=0)
    r.add(SRC, DST, Concat(2, 2, 1), b"two", T0 + 1, data_coding=0)
    out = r.add(SRC, DST, Concat(3, 2, 1), b"three", T0 + 2, data_coding=0)
    assert len(out) == 1
    evicted = out[0]
    assert (evicted.reference, evicted.reason, evicted.missing) == (1, FlushReason.EVICTED, (2,))
    assert evicted.text == "one"
    assert r.pending == 2
    # a part of an existing message does not evict anything
    assert r.add(SRC, DST, Concat(2, 2, 1), b"two", T0 + 3, data_coding=0) == []
    (done,) = r.add(SRC, DST, Concat(2, 2, 2), b"!", T0 + 4, data_coding=0)
    assert done.text == "two!"
    assert done.duplicates == 1


def test_parts_are_keyed_by_source_destination_reference_and_total() -> None:
    r = Reassembler()
    r.add("A", DST, Concat(1, 2, 1), b"a1", T0, data_coding=0)
    r.add("B", DST, Concat(1, 2, 1), b"b1", T0, data_coding=0)
    r.add("A", "other", Concat(1, 2, 1), b"x1", T0, data_coding=0)
    r.add("A", DST, Concat(1, 3, 1), b"t1", T0, data_coding=0)  # same ref, other total
    assert r.pending == 4
    (msg,) = r.add("B", DST, Concat(1, 2, 2), b"b2", T0, data_coding=0)
    assert (msg.source, msg.text) == ("B", "b1b2")
    drained = r.drain()
    assert [m.reason for m in drained] == [FlushReason.DRAINED] * 3
    assert [m.text for m in drained] == ["a1", "x1", "t1"]
    assert r.pending == 0


def test_sar_parts_reassemble() -> None:
    text = "sar " * 100
    result = plan(text, method=Method.SAR, reference=0x4242)
    (msg,) = feed(Reassembler(), result, [3, 1, 2])
    assert msg.text == text
    assert msg.reference == 0x4242


def test_single_messages_pass_straight_through() -> None:
    r = Reassembler()
    (msg,) = feed(r, plan("hello"), [1])
    assert (msg.text, msg.reference, msg.complete, msg.total) == ("hello", None, True, 1)
    (payload_msg,) = feed(r, plan("漢" * 300, method=Method.PAYLOAD), [1])
    assert payload_msg.text == "漢" * 300
    (one,) = r.add(SRC, DST, Concat(5, 1, 1), b"solo", T0, data_coding=0)
    assert (one.text, one.reference) == ("solo", 5)
    assert r.pending == 0


def test_each_part_is_decoded_with_its_data_coding() -> None:
    r = Reassembler()
    r.add(SRC, DST, Concat(1, 2, 1), "漢".encode("utf-16-be"), T0, data_coding=0x08)
    (msg,) = r.add(SRC, DST, Concat(1, 2, 2), b"\x1b\x65", T0, data_coding=0x00)
    assert msg.text == "漢€"


def test_a_split_surrogate_shows_as_replacement_characters() -> None:
    # What a handset shows when a sender (e.g. python-smpplib) splits a surrogate pair.
    r = Reassembler()
    r.add(SRC, DST, Concat(1, 2, 1), b"\xd8\x3d", T0, data_coding=0x08)
    (msg,) = r.add(SRC, DST, Concat(1, 2, 2), b"\xde\x00", T0, data_coding=0x08)
    assert msg.text == "\ufffd\ufffd"
    assert msg.payload.decode("utf-16-be") == "😀"


def test_unsupported_data_coding_raises_without_changing_state() -> None:
    r = Reassembler()
    with pytest.raises(UnsupportedDataCoding):
        r.add(SRC, DST, Concat(1, 2, 1), b"x", T0, data_coding=0x05)
    assert r.pending == 0


def test_invalid_settings() -> None:
    with pytest.raises(SegmentationError):
        Reassembler(timeout=0)
    with pytest.raises(SegmentationError):
        Reassembler(max_pending=0)
