"""Properties of simulator.smpp.framing: any chunking gives the same frames; bad lengths stop it."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.smpp.errors import FramingError
from simulator.smpp.framing import Framer

MAX = 512


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=MAX - 16))
    command_id = draw(st.integers(0, 0xFFFFFFFF))
    seq = draw(st.integers(0, 0xFFFFFFFF))
    return struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def feed_all(framer: Framer, chunks: list[bytes], out: list[bytes]) -> None:
    """Feed every chunk, collecting frames as they complete."""
    for chunk in chunks:
        framer.feed(chunk)
        out.extend(framer.frames())
    out.extend(framer.frames())


@given(data=st.data(), pdus=st.lists(frames(), max_size=20))
def test_any_chunking_yields_the_same_frames(data: st.DataObject, pdus: list[bytes]) -> None:
    stream = b"".join(pdus)
    framer = Framer(MAX)
    out: list[bytes] = []
    for chunk in data.draw(splits(stream)):
        framer.feed(chunk)
        out.extend(framer.frames())
    assert out == pdus
    assert framer.buffered == 0


@given(pdus=st.lists(frames(), max_size=20), size=st.integers(1, 64))
def test_fixed_size_reads(pdus: list[bytes], size: int) -> None:
    stream = b"".join(pdus)
    framer = Framer(MAX)
    out: list[bytes] = []
    for start in range(0, len(stream), size):
        framer.feed(stream[start : start + size])
        out.extend(framer.frames())
    assert out == pdus


@given(
    data=st.data(),
    good=st.lists(frames(), max_size=5),
    bad_length=st.one_of(st.integers(0, 15), st.integers(MAX + 1, 0xFFFFFFFF)),
    trailer=st.binary(max_size=40),
)
def test_bad_length_stops_after_the_good_frames(
    data: st.DataObject, good: list[bytes], bad_length: int, trailer: bytes
) -> None:
    stream = b"".join(good) + struct.pack(">I", bad_length) + trailer
    framer = Framer(MAX)
    out: list[bytes] = []
    chunks = data.draw(splits(stream))
    with pytest.raises(FramingError):
        feed_all(framer, chunks, out)
    assert out == good
    assert framer.failed
    # Never more than one partial frame (bounded by MAX) is held for an unfinished PDU.
    assert framer.buffered <= len(trailer) + 4
