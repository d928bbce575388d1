"""simulator.smpp.framing: length guards before buffering, and chunking invisibility."""

from __future__ import annotations

import struct

import pytest

from simulator.smpp.constants import CommandStatus
from simulator.smpp.errors import FramingError
from simulator.smpp.framing import Framer


def pdu(length: int, seq: int = 1, fill: int = 0xAB) -> bytes:
    return struct.pack(">IIII", length, 0x15, 0, seq) + bytes([fill]) * (length - 16)


def test_one_frame() -> None:
    framer = Framer()
    framer.feed(pdu(16))
    assert framer.next_frame() == pdu(16)
    assert framer.next_frame() is None
    assert framer.buffered == 0


def test_one_octet_at_a_time() -> None:
    data = pdu(16, 1) + pdu(40, 2) + pdu(17, 3)
    framer = Framer()
    out: list[bytes] = []
    for i in range(len(data)):
        framer.feed(data[i : i + 1])
        out.extend(framer.frames())
    assert out == [pdu(16, 1), pdu(40, 2), pdu(17, 3)]


def test_many_frames_in_one_read() -> None:
    frames = [pdu(16 + i % 50, i) for i in range(1, 3001)]
    framer = Framer()
    framer.feed(b"".join(frames))
    assert list(framer) == frames


def test_partial_then_rest_across_compaction() -> None:
    frames = [pdu(100, i) for i in range(1, 2001)]  # 200 KB, exercises the bulk release path
    data = b"".join(frames)
    framer = Framer()
    out: list[bytes] = []
    for start in range(0, len(data), 999):
        framer.feed(data[start : start + 999])
        out.extend(framer.frames())
    assert out == frames


@pytest.mark.parametrize("length", [0, 1, 4, 15])
def test_too_short_is_rejected_from_four_octets(length: int) -> None:
    framer = Framer()
    framer.feed(struct.pack(">I", length))
    with pytest.raises(FramingError) as info:
        framer.next_frame()
    assert info.value.command_status_hint == CommandStatus.ESME_RINVCMDLEN
    assert info.value.sequence_number is None


@pytest.mark.parametrize("length", [7425, 0x7FFFFFFF, 0x80000010, 0xFFFFFFFF])
def test_too_long_is_rejected_before_the_body(length: int) -> None:
    framer = Framer()
    framer.feed(struct.pack(">I", length))  # nothing else arrives: no waiting for a body
    with pytest.raises(FramingError):
        framer.next_frame()
    assert framer.failed


def test_limit_is_inclusive_and_configurable() -> None:
    framer = Framer(max_length=100)
    framer.feed(pdu(100) + pdu(101))
    assert framer.next_frame() == pdu(100)
    with pytest.raises(FramingError):
        framer.next_frame()
    assert Framer(70_000).max_length == 70_000


def test_failure_is_sticky() -> None:
    framer = Framer()
    framer.feed(struct.pack(">I", 3))
    with pytest.raises(FramingError) as first:
        framer.next_frame()
    framer.feed(pdu(16))
    with pytest.raises(FramingError) as second:
        framer.next_frame()
    assert first.value is second.value


def test_frames_before_a_bad_length_are_delivered() -> None:
    framer = Framer()
    framer.feed(pdu(16, 1) + pdu(20, 2) + struct.pack(">I", 9999) + b"junk")
    assert framer.next_frame() == pdu(16, 1)
    assert framer.next_frame() == pdu(20, 2)
    with pytest.raises(FramingError):
        framer.next_frame()


def test_pending_sequence_number() -> None:
    framer = Framer()
    data = pdu(30, seq=77)
    framer.feed(data[:15])
    assert framer.pending_sequence_number() is None
    framer.feed(data[15:20])
    assert framer.next_frame() is None
    assert framer.pending_sequence_number() == 77
    assert framer.buffered == 20


def test_empty_feed_is_harmless() -> None:
    framer = Framer()
    framer.feed(b"")
    assert framer.next_frame() is None


@pytest.mark.parametrize("bad", [15, 0x80000000])
def test_max_length_validated(bad: int) -> None:
    with pytest.raises(ValueError):
        Framer(bad)
