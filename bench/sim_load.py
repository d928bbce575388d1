"""Load the simulator with a lean pipelined SMPP client and print throughput and latency.

Usage::

    .venv/bin/python bench/sim_load.py [--seconds 5] [--sessions-rss 1000] [--receipt-delay 0.1]

What it measures, each case against a fresh server in a child process (uvloop when available):

* accepted submit_sm per second with receipts on (registered_delivery=1; the client answers every
  deliver_sm), one session at window 1, 10 and 100, and 4 sessions at window 100;
* submit_sm_resp latency p50 / p99 (send to response, measured in the client);
* RSS per bound session (the server's RSS with N idle bound sessions minus its RSS before,
  divided by N);
* the client's own ceiling: the same cases against a trivial server written here (an
  asyncio.Protocol answering every submit_sm from pre-encoded bytes), so a figure for the
  simulator can be read against what this client can drive at all.

``--target HOST:PORT`` runs the same cases against an SMSC started by hand instead, for a
side-by-side (for example the npm package ``smpp``: ``smpp.createServer(session => ...)``
answering bind_transceiver and submit_sm with ``pdu.response()`` and sending a deliver_sm
receipt per message, ``server.listen(2776)``).

The client is built to cost as little as possible: submit_sm PDUs are encoded once (only the
sequence number is patched), responses are parsed from the 16-octet header only, and everything
is one raw asyncio.Protocol per connection. It runs in this process, the server in another (two
CPUs: one each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from simulator.smpp.codec import encode
from simulator.smpp.pdu import BindTransceiver, SubmitSm

_ROOT = Path(__file__).resolve().parents[1]
_HEADER = struct.Struct(">IIII")
_U32 = struct.Struct(">I")
_SUBMIT_SM_RESP = 0x80000004
_DELIVER_SM = 0x00000005
_ENQUIRE_LINK = 0x00000015
_BIND_TRANSCEIVER_RESP = 0x80000009
_DELIVER_SM_RESP_HEAD = _HEADER.pack(17, 0x80000005, 0, 0)[:12]
_ENQUIRE_LINK_RESP_HEAD = _HEADER.pack(16, 0x80000015, 0, 0)[:12]


def _templates(count: int = 64) -> list[bytes]:
    """Pre-encoded submit_sm (sequence number 0, patched when sent)."""
    return [
        encode(
            SubmitSm(
                0,
                source_addr_ton=5,
                source_addr="ACME",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=f"8190{i:08d}",
                registered_delivery=1,
                short_message=b"Your invoice is overdue. Please pay by Friday.",
            )
        )
        for i in range(count)
    ]


@dataclass
class Result:
    """One connection's figures."""

    sent: int = 0
    accepted: int = 0
    refused: int = 0
    receipts: int = 0
    latencies: list[float] = field(default_factory=list)


class LoadProtocol(asyncio.Protocol):
    """One pipelined ESME connection: keeps ``window`` submit_sm outstanding."""

    def __init__(self, window: int, templates: list[bytes], result: Result) -> None:
        self.window = window
        self.templates = templates
        self.result = result
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sent_at: dict[int, float] = {}
        self.seq = 1
        self.bound = asyncio.get_running_loop().create_future()
        self.running = False
        self.measuring = False
        self.clock = time.perf_counter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop: not a subclass
        self.transport.write(encode(BindTransceiver(1, system_id="load", password="pw")))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.bound.done():
            self.bound.set_exception(ConnectionError("closed before bind"))
        self.running = False

    def start(self) -> None:
        self.running = True
        self._fill()

    def _fill(self) -> None:
        if not self.running or self.transport is None:
            return
        out = []
        now = self.clock()
        templates = self.templates
        while len(self.sent_at) < self.window:
            seq = self.seq = self.seq + 1 if self.seq < 0x7FFFFFFF else 2
            pdu = templates[seq & 63]
            out.append(pdu[:12] + _U32.pack(seq) + pdu[16:])
            self.sent_at[seq] = now
        if out:
            self.result.sent += len(out)
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        end = len(buf)
        replies = []
        now = self.clock()
        result = self.result
        while end - pos >= 16:
            length, command_id, status, seq = _HEADER.unpack_from(buf, pos)
            if end - pos < length:
                break
            pos += length
            if command_id == _SUBMIT_SM_RESP:
                sent = self.sent_at.pop(seq, None)
                if self.measuring:
                    if status == 0:
                        result.accepted += 1
                    else:
                        result.refused += 1
                    if sent is not None:
                        result.latencies.append(now - sent)
            elif command_id == _DELIVER_SM:
                replies.append(_DELIVER_SM_RESP_HEAD + _U32.pack(seq) + b"\x00")
                if self.measuring:
                    result.receipts += 1
            elif command_id == _ENQUIRE_LINK:
                replies.append(_ENQUIRE_LINK_RESP_HEAD + _U32.pack(seq))
            elif command_id == _BIND_TRANSCEIVER_RESP and not self.bound.done():
                self.bound.set_result(status)
        del buf[:pos]
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        self._fill()


def _factory(window: int, templates: list[bytes], result: Result) -> Callable[[], LoadProtocol]:
    return lambda: LoadProtocol(window, templates, result)


async def run_case(
    host: str, port: int, *, sessions: int, window: int, seconds: float, warmup: float = 0.5
) -> dict[str, float]:
    """Drive ``sessions`` connections at ``window`` each for ``seconds``.

    Returns:
        accepted/s, receipts/s, refused, p50 and p99 latency (ms).
    """
    loop = asyncio.get_running_loop()
    templates = _templates()
    results = [Result() for _ in range(sessions)]
    protocols: list[LoadProtocol] = []
    for result in results:
        _, protocol = await loop.create_connection(_factory(window, templates, result), host, port)
        assert isinstance(protocol, LoadProtocol)
        status = await asyncio.wait_for(protocol.bound, 5)
        if status != 0:
            raise RuntimeError(f"bind refused: 0x{status:08X}")
        protocols.append(protocol)
    for protocol in protocols:
        protocol.start()
    await asyncio.sleep(warmup)
    for protocol in protocols:
        protocol.measuring = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    for protocol in protocols:
        protocol.measuring = False
        protocol.running = False
    for protocol in protocols:
        if protocol.transport is not None:
            protocol.transport.close()
    latencies = sorted(x for r in results for x in r.latencies)

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "accepted_per_s": sum(r.accepted for r in results) / elapsed,
        "receipts_per_s": sum(r.receipts for r in results) / elapsed,
        "refused": float(sum(r.refused for r in results)),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


# --------------------------------------------------------------------------------------------
# Servers in child processes
# --------------------------------------------------------------------------------------------

_SIMULATOR = """
import asyncio, json, sys
from simulator.config import config_from_mapping
from simulator.server import SimulatorServer

async def main(delay):
    config = config_from_mapping({
        "receipts": {"delay_s": delay},
        "delivery": {"window": 100},
        "limits": {"max_connections": 5000},
        "timers": {"enquire_link_s": None, "inactivity_s": None},
        "store": {"capacity": 200000, "max_pending": 200000},
    })
    server = SimulatorServer(config)
    await server.start(host="127.0.0.1", port=0)
    print(json.dumps({"port": server.address[1]}), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        s = server.stats
        print(json.dumps({"binds": s.binds, "accepted": s.accepted,
                          "receipts": s.receipts_sent}), flush=True)
    await server.stop(grace=0.2)

try:
    import uvloop
    uvloop.run(main(float(sys.argv[1])))
except ImportError:
    asyncio.run(main(float(sys.argv[1])))
"""

_TRIVIAL = """
import asyncio, json, struct, sys
H = struct.Struct(">IIII")
RESP = struct.pack(">III", 27, 0x80000004, 0)  # + seq + "0000000001\\0"
BIND = struct.pack(">III", 24, 0x80000009, 0)  # + seq + "trivial\\0"

ANSWERED = [0]

class Trivial(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t
        self.buf = bytearray()
    def data_received(self, data):
        buf = self.buf
        buf += data
        pos, end, out = 0, len(buf), []
        while end - pos >= 16:
            length, cid, _, seq = H.unpack_from(buf, pos)
            if end - pos < length:
                break
            pos += length
            if cid == 4:
                ANSWERED[0] += 1
                out.append(RESP + seq.to_bytes(4, "big") + b"0000000001\\x00")
            elif cid == 9:
                out.append(BIND + seq.to_bytes(4, "big") + b"trivial\\x00")
        del buf[:pos]
        if out:
            self.t.write(b"".join(out))

async def main():
    server = await asyncio.get_running_loop().create_server(Trivial, "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(json.dumps({"accepted": ANSWERED[0]}), flush=True)

try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


class Child:
    """A server in a child process; reads its port from the first line of its output."""

    def __init__(self, code: str, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(_ROOT))
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        self.port = int(json.loads(self.process.stdout.readline())["port"])

    def rss_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stats(self) -> dict[str, int]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        result: dict[str, int] = json.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def rss_per_session(count: int) -> tuple[float, float, float]:
    """Bind ``count`` idle sessions to a fresh simulator.

    Returns:
        (RSS before MiB, RSS after MiB, KiB per session).
    """
    child = Child(_SIMULATOR, "1.0")
    loop = asyncio.get_running_loop()
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        await asyncio.sleep(0.2)
        before = child.rss_mib()
        bind = encode(BindTransceiver(1, system_id="idle", password="pw"))
        for i in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", child.port)
            writer.write(bind)
            await reader.readexactly(_HEADER.unpack(await reader.readexactly(16))[0] - 16)
            streams.append((reader, writer))  # keep both: a collected stream closes
            if i % 200 == 199:
                await asyncio.sleep(0)
        await asyncio.sleep(0.5)
        binds = child.stats()["binds"]
        after = child.rss_mib()
        assert binds == count, (binds, count)
        return before, after, (after - before) * 1024 / count
    finally:
        for _, writer in streams:
            writer.close()
        await asyncio.sleep(0.1)
        child.close()
        del loop


CASES: list[tuple[str, int, int]] = [
    ("1 session, window 1", 1, 1),
    ("1 session, window 10", 1, 10),
    ("1 session, window 100", 1, 100),
    ("4 sessions, window 100", 4, 100),
]


async def main_async(args: argparse.Namespace, out: Callable[[str], None]) -> None:
    try:
        import uvloop  # noqa: F401

        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    receipts = (
        f"DELIVRD after {args.receipt_delay:g} s" if not args.target else "as the target sends"
    )
    out(
        f"sim_load: {args.seconds:g} s per case after {args.warmup:g} s warm-up; receipts on "
        f"(registered_delivery=1, {receipts}, answered by the client); client loop "
        f"{loop_name}; CPUs {os.cpu_count()}"
    )
    if args.target:
        host, _, port = args.target.rpartition(":")
        for name, sessions, window in CASES:
            figures = await run_case(
                host or "127.0.0.1",
                int(port),
                sessions=sessions,
                window=window,
                seconds=args.seconds,
                warmup=args.warmup,
            )
            out(
                f"  {name:<24} {args.target:<9} {figures['accepted_per_s']:>9,.0f} submit/s  "
                f"{figures['receipts_per_s']:>9,.0f} receipts/s  "
                f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms  "
                f"refused {figures['refused']:.0f}"
            )
        return
    rows = []
    for name, sessions, window in CASES:
        for target in ("simulator", "trivial"):
            child = (
                Child(_SIMULATOR, str(args.receipt_delay))
                if target == "simulator"
                else Child(_TRIVIAL)
            )
            try:
                figures = await run_case(
                    "127.0.0.1",
                    child.port,
                    sessions=sessions,
                    window=window,
                    seconds=args.seconds,
                    warmup=args.warmup,
                )
                if target == "simulator":
                    await asyncio.sleep(args.receipt_delay + 0.3)
                figures["server_accepted"] = float(child.stats()["accepted"])
            finally:
                child.close()
            rows.append((name, target, figures))
            out(
                f"  {name:<24} {target:<9} {figures['accepted_per_s']:>9,.0f} submit/s  "
                f"{figures['receipts_per_s']:>9,.0f} receipts/s  "
                f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms  "
                f"refused {figures['refused']:.0f}"
            )
    before, after, per = await rss_per_session(args.sessions_rss)
    out(
        f"  RSS: {args.sessions_rss} idle bound sessions: {before:.1f} -> {after:.1f} MiB, "
        f"{per:.1f} KiB per session"
    )


def main() -> int:
    """Parse arguments and run every case."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--receipt-delay", type=float, default=0.1, help="simulated delay")
    parser.add_argument("--sessions-rss", type=int, default=1000, help="idle sessions for RSS")
    parser.add_argument(
        "--target",
        metavar="HOST:PORT",
        help="drive an SMSC that is already running (e.g. a node-smpp server) instead",
    )
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_async(args, print))
    else:
        uvloop.run(main_async(args, lambda line: print(line, flush=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
