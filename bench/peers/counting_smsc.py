"""A trivial counting SMSC: the reference target the peers are checked against.

Raw ``struct`` over one ``asyncio.Protocol`` per connection, nothing else: it accepts any bind
(transmitter, receiver, transceiver), answers enquire_link and unbind, answers every submit_sm
with an incrementing decimal message_id, and, when receipts are on, writes a delivery receipt
(deliver_sm, esm_class 0x04, SMPP 3.4 Appendix B text plus the receipted_message_id and
message_state TLVs, same id string as the submit_sm_resp) right after the response, to the same
session if it is a transceiver, else to a receiver bound with the same system_id. It counts
submits, receipts written and deliver_sm_resp received, with the time of the first and last
submit_sm and of the last deliver_sm_resp.

Usage::

    async with CountingSmsc(port=0) as smsc:   # smsc.port, smsc.stats
        ...

    python -m bench.peers.counting_smsc --port 2775 [--no-receipts] [--max-seconds 600]

The script prints ``{"event": "listening", ...}`` when ready and ``{"event": "stopped", ...}``
with its counters (and the submit rate it saw) when it stops: SIGTERM/SIGINT or --max-seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self, cast

_HEADER: Final = struct.Struct(">IIII")
_TLV: Final = struct.Struct(">HH")

BIND_RECEIVER: Final = 0x00000001
BIND_TRANSMITTER: Final = 0x00000002
SUBMIT_SM: Final = 0x00000004
DELIVER_SM: Final = 0x00000005
DELIVER_SM_RESP: Final = 0x80000005
UNBIND: Final = 0x00000006
UNBIND_RESP: Final = 0x80000006
BIND_TRANSCEIVER: Final = 0x00000009
ENQUIRE_LINK: Final = 0x00000015
ENQUIRE_LINK_RESP: Final = 0x80000015
GENERIC_NACK: Final = 0x80000000
RESP: Final = 0x80000000

ESME_ROK: Final = 0x00
ESME_RINVCMDLEN: Final = 0x02
ESME_RINVCMDID: Final = 0x03
ESME_RINVBNDSTS: Final = 0x04

TAG_RECEIPTED_MESSAGE_ID: Final = 0x001E
TAG_MESSAGE_STATE: Final = 0x0427
MAX_PDU: Final = 70_000

_BIND_KINDS: Final[dict[int, str]] = {
    BIND_RECEIVER: "receiver",
    BIND_TRANSMITTER: "transmitter",
    BIND_TRANSCEIVER: "transceiver",
}


@dataclass(slots=True)
class CountingStats:
    """Counters of one server (attribute names match bench.fast_smsc.FastSmscStats)."""

    sessions: int = 0
    binds: int = 0
    submits: int = 0
    receipts_sent: int = 0
    receipts_acked: int = 0
    first_submit_at: float | None = None
    """time.time() of the first submit_sm."""
    last_submit_at: float | None = None
    """time.time() of the latest submit_sm."""
    last_ack_at: float | None = None
    """time.time() of the latest deliver_sm_resp for a receipt."""

    def summary(self) -> dict[str, Any]:
        """Counters plus the submit rate seen (submits after the first / first-to-last span)."""
        out = asdict(self)
        span = (
            self.last_submit_at - self.first_submit_at
            if self.first_submit_at is not None and self.last_submit_at is not None
            else 0.0
        )
        out["submit_rate"] = round((self.submits - 1) / span, 1) if span > 0 else None
        return out


def _cstr(buf: bytes | bytearray, offset: int) -> tuple[bytes, int]:
    end = buf.index(0, offset)
    return bytes(buf[offset:end]), end + 1


def _stamp() -> bytes:
    return datetime.now(UTC).strftime("%y%m%d%H%M").encode("ascii")


class _Conn(asyncio.Protocol):
    def __init__(self, server: CountingSmsc) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.out: list[bytes] = []
        self.kind = ""
        self.system_id = b""
        self.seq = 0
        self.sock: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.server.quickack:
            self.sock = transport.get_extra_info("socket")
        self.server.conns.add(self)
        self.server.stats.sessions += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.conns.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.sock is not None:
            # Acknowledge at once (Linux resets TCP_QUICKACK after a while, so set it per read).
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        buf = self.buf
        buf += data
        pos = 0
        size = len(buf)
        while size - pos >= 16:
            length, command, _status, seq = _HEADER.unpack_from(buf, pos)
            if not 16 <= length <= MAX_PDU:
                self.out.append(_HEADER.pack(16, GENERIC_NACK, ESME_RINVCMDLEN, 0))
                self.flush()
                if self.transport is not None:
                    self.transport.close()
                return
            if size - pos < length:
                break
            self.handle(command, seq, buf, pos + 16, pos + length)
            pos += length
        if pos:
            del buf[:pos]
        self.flush()
        for other in self.server.dirty:
            other.flush()
        self.server.dirty.clear()

    def flush(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def handle(self, command: int, seq: int, buf: bytearray, start: int, end: int) -> None:
        stats = self.server.stats
        if command == SUBMIT_SM:
            self.submit(seq, buf, start)
        elif command == DELIVER_SM_RESP:
            stats.receipts_acked += 1
            stats.last_ack_at = time.time()
        elif command == ENQUIRE_LINK:
            self.out.append(_HEADER.pack(16, ENQUIRE_LINK_RESP, ESME_ROK, seq))
        elif command in _BIND_KINDS:
            self.system_id, _ = _cstr(buf, start)
            self.kind = _BIND_KINDS[command]
            stats.binds += 1
            body = b"counting\x00"
            self.out.append(_HEADER.pack(16 + len(body), command | RESP, ESME_ROK, seq) + body)
        elif command == UNBIND:
            self.out.append(_HEADER.pack(16, UNBIND_RESP, ESME_ROK, seq))
            self.flush()
            self.kind = ""
            if self.transport is not None:
                self.transport.close()
        elif not command & RESP:
            self.out.append(_HEADER.pack(16, GENERIC_NACK, ESME_RINVCMDID, seq))

    def submit(self, seq: int, buf: bytearray, pos: int) -> None:
        server = self.server
        stats = server.stats
        now = time.time()
        stats.submits += 1
        if stats.first_submit_at is None:
            stats.first_submit_at = now
        stats.last_submit_at = now
        if self.kind not in ("transmitter", "transceiver"):
            self.out.append(_HEADER.pack(16, SUBMIT_SM | RESP, ESME_RINVBNDSTS, seq))
            return
        message_id = str(server.next_id).encode("ascii")
        server.next_id += 1
        self.out.append(
            _HEADER.pack(17 + len(message_id), SUBMIT_SM | RESP, ESME_ROK, seq)
            + message_id
            + b"\x00"
        )
        if not server.receipts:
            return
        _service, pos = _cstr(buf, pos)
        src_ton, src_npi = buf[pos], buf[pos + 1]
        source, pos = _cstr(buf, pos + 2)
        dst_ton, dst_npi = buf[pos], buf[pos + 1]
        dest, pos = _cstr(buf, pos + 2)
        pos += 3  # esm_class, protocol_id, priority_flag
        _schedule, pos = _cstr(buf, pos)
        _validity, pos = _cstr(buf, pos)
        if not buf[pos] & 0x01:  # registered_delivery: no receipt wanted
            return
        target = self if self.kind == "transceiver" else server.receiver_for(self.system_id)
        if target is None:
            return
        target.receipt(message_id, dst_ton, dst_npi, dest, src_ton, src_npi, source)
        if target is not self:
            server.dirty.add(target)

    def receipt(
        self,
        message_id: bytes,
        src_ton: int,
        src_npi: int,
        source: bytes,
        dst_ton: int,
        dst_npi: int,
        dest: bytes,
    ) -> None:
        stamp = _stamp()
        text = (
            b"id:"
            + message_id
            + b" sub:001 dlvrd:001 submit date:"
            + stamp
            + b" done date:"
            + stamp
            + b" stat:DELIVRD err:000 text:"
        )
        body = b"".join(
            (
                b"\x00",  # service_type
                bytes((src_ton, src_npi)),
                source,
                b"\x00",
                bytes((dst_ton, dst_npi)),
                dest,
                b"\x00",
                b"\x04\x00\x00",  # esm_class: delivery receipt; protocol_id; priority_flag
                b"\x00\x00",  # schedule_delivery_time, validity_period
                bytes((0, 0, 0, 0, len(text))),  # registered, replace, data_coding, sm_id, len
                text,
                _TLV.pack(TAG_RECEIPTED_MESSAGE_ID, len(message_id) + 1),
                message_id,
                b"\x00",
                _TLV.pack(TAG_MESSAGE_STATE, 1),
                b"\x02",  # DELIVERED
            )
        )
        self.seq = self.seq + 1 if self.seq < 0x7FFFFFFF else 1
        self.out.append(_HEADER.pack(16 + len(body), DELIVER_SM, 0, self.seq) + body)
        self.server.stats.receipts_sent += 1


class CountingSmsc:
    """The server; ``async with CountingSmsc(...) as smsc`` listens on ``smsc.port``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        receipts: bool = True,
        quickack: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.receipts = receipts
        self.quickack = quickack
        """Set TCP_QUICKACK after every read: no delayed ACKs towards the client (diagnosis of
        clients that leave Nagle on, such as Kannel; see bench/README.md)."""
        self.stats = CountingStats()
        self.conns: set[_Conn] = set()
        self.dirty: set[_Conn] = set()
        self.next_id = 1
        self._server: asyncio.Server | None = None

    def receiver_for(self, system_id: bytes) -> _Conn | None:
        """A receiver session of this system_id, for receipts of a transmitter session."""
        for conn in self.conns:
            if conn.kind == "receiver" and conn.system_id == system_id:
                return conn
        return None

    async def start(self) -> None:
        """Listen; `port` is the bound port afterwards."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Conn(self), self.host, self.port, backlog=256
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reason = "signal"
    async with CountingSmsc(
        host=args.host, port=args.port, receipts=args.receipts, quickack=args.quickack
    ) as smsc:
        print(
            json.dumps(
                {
                    "event": "listening",
                    "host": args.host,
                    "port": smsc.port,
                    "receipts": args.receipts,
                }
            ),
            flush=True,
        )
        try:
            async with asyncio.timeout(args.max_seconds):
                await stop.wait()
        except TimeoutError:
            reason = "max-seconds"
    print(json.dumps({"event": "stopped", "reason": reason, **smsc.stats.summary()}), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT or --max-seconds."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers.counting_smsc", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--no-receipts", dest="receipts", action="store_false")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument(
        "--quickack", action="store_true", help="TCP_QUICKACK after every read (no delayed ACKs)"
    )
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
