"""A lean pipelined ESME: measures what an SMSC (ours or a peer's) can take.

One connection, bind_transceiver, then N submit_sm kept `window` in flight, all pre-encoded
(only the sequence number changes); receipts (deliver_sm) are answered with deliver_sm_resp and
counted. Responses are read from their 16-octet header only, so the client costs little and the
figure is the server's. It is the "simple pipelined client" used to rate peer SMSCs such as
node-smpp (bench/peers/node_smpp.py), the counting SMSC and our simulator: ``smsh bench``
(bench/suite.py, via bench/capacity.py) rates every SMSC with this client only, so its ratios
compare servers, not clients. Destinations can rotate through a list (the carrier model's
population), which costs the client nothing (one pre-encoded template per destination).

Figures: ``submit_rate`` = N / (first send -> last submit_sm_resp), ``receipt_rate`` = receipts /
(first send -> last receipt), each in messages per second.

Usage::

    python -m bench.peers.pipelined_esme --smsc 127.0.0.1:2775 --count 5000 --window 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import struct
import sys
import time
from typing import Any, Final, cast

from bench.peers.common import emit, parse_hostport, rate, require_loopback

_HEADER: Final = struct.Struct(">IIII")
_SEQ: Final = struct.Struct(">I")
BIND_TRANSCEIVER: Final = 0x00000009
BIND_TRANSCEIVER_RESP: Final = 0x80000009
SUBMIT_SM: Final = 0x00000004
SUBMIT_SM_RESP: Final = 0x80000004
DELIVER_SM: Final = 0x00000005
DELIVER_SM_RESP: Final = 0x80000005
ENQUIRE_LINK: Final = 0x00000015
ENQUIRE_LINK_RESP: Final = 0x80000015
UNBIND: Final = 0x00000006
UNBIND_RESP: Final = 0x80000006
#: The destination of every submit_sm unless the caller gives a list to rotate through.
DESTINATION: Final = "819012345678"


def _cstr(text: str) -> bytes:
    return text.encode("latin-1") + b"\x00"


def bind_pdu(system_id: str, password: str, seq: int = 1) -> bytes:
    """A bind_transceiver PDU (interface_version 0x34)."""
    body = _cstr(system_id) + _cstr(password) + _cstr("") + bytes((0x34, 0, 0)) + _cstr("")
    return _HEADER.pack(16 + len(body), BIND_TRANSCEIVER, 0, seq) + body


def submit_body(destination: str, text: bytes, registered_delivery: int) -> bytes:
    """A submit_sm body: alphanumeric source ACME, international destination."""
    return b"".join(
        (
            _cstr(""),  # service_type
            bytes((5, 0)),
            _cstr("ACME"),
            bytes((1, 1)),
            _cstr(destination),
            bytes((0, 0, 0)),  # esm_class, protocol_id, priority_flag
            _cstr(""),  # schedule_delivery_time
            _cstr(""),  # validity_period
            bytes((registered_delivery, 0, 0, 0, len(text))),
            text,
        )
    )


def _template(destination: str, registered_delivery: int) -> bytearray:
    body = submit_body(destination, b"pipelined benchmark message", registered_delivery)
    return bytearray(_HEADER.pack(16 + len(body), SUBMIT_SM, 0, 0) + body)


class _Client(asyncio.Protocol):
    def __init__(
        self,
        count: int,
        window: int,
        receipts: bool,
        destinations: list[str] | None = None,
        wait_receipts: bool = True,
    ) -> None:
        self.count = count
        self.window = window
        registered = 1 if receipts else 0
        self.templates = [
            _template(destination, registered) for destination in destinations or [DESTINATION]
        ]
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.sent = 0
        self.acked = 0
        self.errors = 0
        self.receipts = 0
        self.want_receipts = receipts and wait_receipts
        self.bound = asyncio.get_running_loop().create_future()
        self.done = asyncio.Event()
        self.closed = asyncio.Event()
        self.started_at = 0.0
        self.last_resp_at = 0.0
        self.last_receipt_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.closed.set()
        self.done.set()
        if not self.bound.done():
            self.bound.set_exception(ConnectionError("connection closed before bind_resp"))

    def start(self) -> None:
        self.started_at = time.perf_counter()
        self.fill()

    def fill(self) -> None:
        if self.transport is None:
            return
        out: list[bytes] = []
        templates = self.templates
        rotate = len(templates)
        limit = min(self.count, self.acked + self.errors + self.window)
        while self.sent < limit:
            template = templates[self.sent % rotate]
            self.sent += 1
            _SEQ.pack_into(template, 12, self.sent + 1)  # bind used sequence 1
            out.append(bytes(template))
        if out:
            self.transport.write(b"".join(out))

    def check_done(self) -> None:
        answered = self.acked + self.errors
        if answered >= self.count and (not self.want_receipts or self.receipts >= self.acked):
            self.done.set()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        size = len(buf)
        replies: list[bytes] = []
        got_resp = False
        now = time.perf_counter()
        while size - pos >= 16:
            length, command, status, seq = _HEADER.unpack_from(buf, pos)
            if size - pos < length:
                break
            if command == SUBMIT_SM_RESP:
                got_resp = True
                self.last_resp_at = now
                if status == 0:
                    self.acked += 1
                else:
                    self.errors += 1
            elif command == DELIVER_SM:
                self.receipts += 1
                self.last_receipt_at = now
                replies.append(_HEADER.pack(17, DELIVER_SM_RESP, 0, seq) + b"\x00")
            elif command == ENQUIRE_LINK:
                replies.append(_HEADER.pack(16, ENQUIRE_LINK_RESP, 0, seq))
            elif command == BIND_TRANSCEIVER_RESP and not self.bound.done():
                if status == 0:
                    self.bound.set_result(None)
                else:
                    self.bound.set_exception(ConnectionError(f"bind refused: 0x{status:08X}"))
            pos += length
        if pos:
            del buf[:pos]
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        if got_resp:
            self.fill()
        self.check_done()


async def run_pipelined(
    host: str,
    port: int,
    count: int,
    window: int,
    *,
    receipts: bool = True,
    max_seconds: float = 120.0,
    system_id: str = "bench",
    password: str = "bench",
    destinations: list[str] | None = None,
    wait_receipts: bool = True,
) -> dict[str, Any]:
    """Send `count` submit_sm with `window` in flight; return the figures.

    `destinations` (default: `DESTINATION` only) are used in turn, one per submit_sm. With
    `wait_receipts` False the run ends at the last submit_sm_resp even when receipts were
    requested (to leave them pending in the SMSC, e.g. to measure its memory).
    """
    require_loopback(host)
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(
        lambda: _Client(count, window, receipts, destinations, wait_receipts), host, port
    )
    try:
        transport.write(bind_pdu(system_id, password))
        await asyncio.wait_for(client.bound, 10)
        client.start()
        timed_out = False
        try:
            await asyncio.wait_for(client.done.wait(), max_seconds)
        except TimeoutError:
            timed_out = True
        if not client.closed.is_set():
            transport.write(_HEADER.pack(16, UNBIND, 0, 0x7FFFFFFF))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.closed.wait(), 2.0)
    finally:
        transport.close()
    submit_span = client.last_resp_at - client.started_at if client.last_resp_at else None
    receipt_span = client.last_receipt_at - client.started_at if client.last_receipt_at else None
    return {
        "peer": "pipelined-esme",
        "target": f"{host}:{port}",
        "count": count,
        "window": window,
        "sent": client.sent,
        "accepted": client.acked,
        "errors": client.errors,
        "receipts": client.receipts,
        "timed_out": timed_out,
        "submit_seconds": round(submit_span, 3) if submit_span else None,
        "submit_rate": rate(client.acked, submit_span),
        "receipt_seconds": round(receipt_span, 3) if receipt_span else None,
        "receipt_rate": rate(client.receipts, receipt_span),
    }


def main(argv: list[str] | None = None) -> int:
    """Run once and print one JSON line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers.pipelined_esme", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--smsc", required=True, help="HOST:PORT of the SMSC (loopback)")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--no-receipts", dest="receipts", action="store_false")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    host, port = parse_hostport(args.smsc)
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    result = asyncio.run(
        run_pipelined(
            host, port, args.count, args.window, receipts=args.receipts, max_seconds=args.timeout
        )
    )
    emit(result)
    return 0 if result["accepted"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
