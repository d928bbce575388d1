"""`GatewayEsme`'s own receive loop: framing across read boundaries, the two fast paths
(submit_sm_resp to a part in flight, deliver_sm) and aiosmpplib's steps for everything else.

The same byte stream is delivered in different chunkings (whole, one octet per read, seeded
random sizes); the bind must see the same calls in the same order every time, and the end of
the stream must raise what ``readexactly`` raised (the link-down reason).
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest

from gateway.esme import (
    Attempt,
    Bind,
    GatewayEsme,
    GatewayHook,
    PlannedSubmitSm,
    StoreCorrelator,
    ThrottleGate,
    Ticket,
)
from gateway.policy import ThrottleState
from sms.alphabet import Encoding
from sms.numbers import Npi, SmppAddress, Ton

SRC = SmppAddress(Ton.ALPHANUMERIC, Npi.UNKNOWN, "SENDER")
DST = SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "819012345678")
HEADER = struct.Struct(">IIII")


def pdu(command_id: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, seq) + body


def ticket(message_id: int) -> Ticket:
    t = Ticket(
        attempt=Attempt(message_id, 1, 1, None, None, outstanding=1),
        part=1,
        total=1,
        source=SRC,
        destination=DST,
        user_data=b"hi",
        as_payload=False,
        encoding=Encoding.GSM7,
        esm_class=0,
        sar=None,
        registered_delivery=1,
        priority=0,
        route="default",
        sender="SENDER",
    )
    t.pdu = PlannedSubmitSm.for_ticket(t)
    return t


RECEIPT_TEXT = (
    b"id:abc sub:001 dlvrd:001 submit date:2601010900 done date:2601010901 stat:DELIVRD err:000"
)
DELIVER_BODY = (
    b"\x00"  # service_type
    + b"\x01\x01819012345678\x00"  # source
    + b"\x05\x00SENDER\x00"  # destination
    + bytes((0x04, 0, 0))  # esm_class (receipt), protocol_id, priority
    + b"\x00\x00"  # schedule, validity
    + bytes((0, 0, 0, 0, len(RECEIPT_TEXT)))
    + RECEIPT_TEXT
)
STREAM = b"".join(
    (
        pdu(0x80000004, 0, 1, b"abc\x00"),  # to part 1 in flight: fast path
        pdu(0x80000004, 0x58, 2, b"\x00"),  # throttled, to part 2: fast path
        pdu(0x00000005, 0, 7, DELIVER_BODY),  # receipt: fast decoder
        pdu(0x00000015, 0, 9),  # enquire_link: aiosmpplib's steps, answered
        pdu(0x80000004, 0, 77, b"zzz\x00"),  # unknown sequence: aiosmpplib's steps
        pdu(0x00000099, 0, 10),  # unknown request: generic_nack, nothing else
        pdu(0x80000000, 0x03, 3, b""),  # generic_nack: aiosmpplib's steps
    )
)


class RecordingBind:
    """The bind calls the receive loop makes, in order."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_response(self, seq: int, status: int, smsc_id: str) -> None:
        self.calls.append(("response", seq, status, smsc_id))

    def on_deliver(self, message: Any, raw: bytes, seq: int, link: Any) -> None:
        self.calls.append(("deliver", seq, message.short_message, raw))

    async def on_received(self, message: Any, raw: bytes) -> None:
        # What Bind.on_received makes of it: responses go to the same place as the fast path's.
        _length, command_id, status, seq = HEADER.unpack_from(raw)
        if command_id == 0x80000004:
            self.calls.append(("response", seq, status, getattr(message, "message_id", None)))
        elif command_id == 0x80000000:
            self.calls.append(("nack", seq, status))
        elif command_id != 0x00000005:  # a deliver_sm went to on_deliver: nothing more here
            self.calls.append(("received", type(message).__name__, raw))

    def on_link_down(self, reason: str) -> None:
        self.calls.append(("down", reason))


class ChunkReader:
    """A reader whose `read` returns the given chunks, then EOF."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def read(self, n: int) -> bytes:
        await asyncio.sleep(0)
        return self.chunks.pop(0) if self.chunks else b""


def chunked(data: bytes, how: str) -> list[bytes]:
    if how == "whole":
        return [data]
    if how == "octets":
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(how)
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 40)
        out.append(data[i : i + n])
        i += n
    return out


@asynccontextmanager
async def esme_over(
    chunks: list[bytes],
) -> AsyncIterator[tuple[GatewayEsme, RecordingBind, bytearray]]:
    written = bytearray()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            written.extend(data)

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bind = RecordingBind()
    correlator = StoreCorrelator()
    correlator.register(1, ticket(1))
    correlator.register(2, ticket(2))
    esme = GatewayEsme(
        cast(Bind, bind),
        smsc_host="127.0.0.1",
        smsc_port=port,
        system_id="a",
        password="b",
        correlator=correlator,
        throttle_handler=ThrottleGate(ThrottleState(), _Clock()),
        hook=GatewayHook(cast(Bind, bind)),
    )
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    esme._reader = ChunkReader(chunks)
    esme._writer = writer
    esme._session_state = esme.bind_mode.session_state
    esme._bound.set()
    try:
        yield esme, bind, written
    finally:
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.02)  # the sink reads the end of the stream and returns
        server.close()
        await server.wait_closed()


class _Clock:
    def now(self) -> float:
        return 0.0


async def run(how: str) -> tuple[list[tuple[Any, ...]], GatewayEsme, bytes]:
    async with asyncio.timeout(10), esme_over(chunked(STREAM, how)) as (esme, bind, written):
        with pytest.raises(asyncio.IncompleteReadError):
            await esme._receive_data()
        await asyncio.sleep(0.05)
        return bind.calls, esme, bytes(written)


@pytest.mark.asyncio
async def test_every_chunking_gives_the_same_calls() -> None:
    expected, esme, written = await run("whole")
    assert expected == [
        ("response", 1, 0, "abc"),
        ("response", 2, 0x58, ""),
        ("deliver", 7, RECEIPT_TEXT.decode(), STREAM[37 : 37 + 16 + len(DELIVER_BODY)]),
        ("received", "EnquireLink", pdu(0x00000015, 0, 9)),
        ("response", 77, 0, "zzz"),  # matched nothing in flight: aiosmpplib's path
        ("nack", 3, 0x03),
        ("down", "IncompleteReadError: 0 bytes read on a total of 16 expected bytes"),
    ]
    gate = cast(ThrottleGate, esme.throttle_handler)
    # seq 77 matched no submit_sm: aiosmpplib does not tell the throttle handler either
    assert (gate.throttled_responses, gate.other_responses) == (1, 1)
    # enquire_link_resp for 9, generic_nack ESME_RINVCMDID for the unknown request 10
    assert written == pdu(0x80000015, 0, 9) + pdu(0x80000000, 0x03, 10)
    for how in ("octets", "seed-1", "seed-2", "seed-3"):
        calls, _esme, again = await run(how)
        assert calls == expected, how
        assert again == written


@pytest.mark.asyncio
async def test_end_of_stream_inside_a_header_or_body_says_what_readexactly_said() -> None:
    first = len(pdu(0x80000004, 0, 1, b"abc\x00"))
    async with asyncio.timeout(10), esme_over([STREAM[: first + 2]]) as (esme, bind, _written):
        with pytest.raises(asyncio.IncompleteReadError) as info:
            await esme._receive_data()
    assert (info.value.partial, info.value.expected) == (STREAM[first : first + 2], 16)
    assert bind.calls[0] == ("response", 1, 0, "abc")
    assert bind.calls[1:] == [
        ("down", "IncompleteReadError: 2 bytes read on a total of 16 expected bytes")
    ]

    deliver = STREAM.index(pdu(0x00000005, 0, 7, DELIVER_BODY))
    cut = STREAM[deliver : deliver + 26]  # its header and 10 octets of its body
    async with asyncio.timeout(10), esme_over([cut[:5], cut[5:]]) as (esme, bind, _written):
        with pytest.raises(asyncio.IncompleteReadError) as info:
            await esme._receive_data()
    assert (info.value.partial, info.value.expected) == (cut[16:], len(DELIVER_BODY))
    assert bind.calls == [
        (
            "down",
            f"IncompleteReadError: 10 bytes read on a total of {len(DELIVER_BODY)} expected bytes",
        )
    ]


@pytest.mark.asyncio
async def test_a_bad_command_length_ends_the_session() -> None:
    async with (
        asyncio.timeout(10),
        esme_over([HEADER.pack(8, 0x80000004, 0, 1)]) as (esme, bind, _w),
    ):
        with pytest.raises(ValueError, match="framing"):
            await esme._receive_data()
    assert bind.calls[-1][0] == "down"
