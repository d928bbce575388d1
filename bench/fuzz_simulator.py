"""Fuzz a live simulator with mutated PDUs while a well-behaved ESME keeps submitting.

Usage::

    .venv/bin/python bench/fuzz_simulator.py [--count 100000] [--workers 4] [--seed 1]

The server runs in a child process (so its memory is measured alone); the fuzzers and the
monitor run here. Mutations (seeded, reproducible): truncations, command_length lies, random
octets in fields, TLV overruns and truncated TLV headers, random command_ids, junk between
PDUs, pure noise. Each fuzz connection binds first (so bodies are parsed in a bound state),
drains whatever the server answers, and reconnects whenever the server closes it.

Prints the server's RSS before, every 10 %, and after; the monitor's submit_sm_resp latency
(p50, p99, max) and whether it ever went unanswered; and the server's counters. The pass
criteria: the server process is alive, the monitor was always answered, and RSS after is
within a few MiB of RSS once warmed up.

``fuzz`` and ``mutations`` are also used by tests/integration/test_simulator_hostile.py (a short
run in CI against an in-process server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulator.smpp.codec import encode
from simulator.smpp.pdu import (
    AlertNotification,
    BindTransceiver,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionListDestAddress,
    EnquireLink,
    GenericNack,
    Outbind,
    QuerySm,
    ReplaceSm,
    SmeDestAddress,
    SubmitMulti,
    SubmitSm,
)

_HEADER = struct.Struct(">IIII")
_ROOT = Path(__file__).resolve().parents[1]


def seed_pdus() -> list[bytes]:
    """Valid PDUs of every kind an ESME might send (and a few it should not)."""
    udh = bytes((5, 0, 3, 1, 2, 1))
    pdus = [
        SubmitSm(1, source_addr="ACME", destination_addr="819012345678", short_message=b"Hi"),
        SubmitSm(
            2,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="819000000000",
            destination_addr="819012345678",
            esm_class=0x40,
            registered_delivery=1,
            data_coding=8,
            short_message=udh + "お支払い".encode("utf-16-be"),
            tlvs=((0x0204, b"\x00\x07"), (0x1500, b"key-1\x00")),
        ),
        SubmitSm(
            3,
            source_addr="A",
            destination_addr="8190",
            schedule_delivery_time="000000000100000R",
            validity_period="000001000000000R",
            tlvs=((0x0424, b"payload " * 20), (0x020C, b"\x00\x01")),
        ),
        DataSm(4, source_addr="A", destination_addr="8190", tlvs=((0x0424, b"data"),)),
        SubmitMulti(
            5,
            source_addr="A",
            dest_addresses=(SmeDestAddress(1, 1, "8190"), DistributionListDestAddress("dl")),
            short_message=b"multi",
        ),
        QuerySm(6, message_id="0000000001", source_addr="A"),
        CancelSm(7, message_id="0000000001"),
        ReplaceSm(8, message_id="0000000001", short_message=b"new"),
        EnquireLink(9),
        DeliverSmResp(10),
        GenericNack(11, 3),
        DeliverSm(12, source_addr="A", destination_addr="B", short_message=b"mo"),
        Outbind(13, system_id="x", password="y"),
        AlertNotification(14, source_addr="8190", esme_addr="A"),
        BindTransceiver(15, system_id="again", password="pw"),
    ]
    return [encode(p) for p in pdus]


def _with_length(data: bytes, length: int) -> bytes:
    return struct.pack(">I", length & 0xFFFFFFFF) + data[4:]


def mutate(rng: random.Random, pdu: bytes) -> bytes:
    """One mutated PDU (or octets that only look like one).

    Args:
        rng: The seeded random source.
        pdu: A valid encoded PDU.

    Returns:
        The octets to send.
    """
    kind = rng.randrange(10)
    size = len(pdu)
    if kind == 0:  # truncated body, command_length adjusted (fields overrun the frame)
        cut = rng.randrange(16, size + 1)
        return _with_length(pdu[:cut], cut)
    if kind == 1:  # command_length lie, shorter or a little longer than the octets
        return _with_length(pdu, rng.choice((rng.randrange(0, 16), rng.randrange(16, size + 40))))
    if kind == 2:  # random octets in the body
        octets = bytearray(pdu)
        for _ in range(rng.randrange(1, 9)):
            if size > 16:
                octets[rng.randrange(16, size)] = rng.randrange(256)
        return bytes(octets)
    if kind == 3:  # TLV overrun or truncated TLV header
        tail = (
            struct.pack(">HH", rng.randrange(0x10000), rng.randrange(5, 0x10000))
            + bytes(rng.randrange(4))
            if rng.random() < 0.7
            else bytes(rng.randrange(1, 4))
        )
        data = pdu + tail
        return _with_length(data, len(data))
    if kind == 4:  # random command_id, sometimes a response
        command_id = rng.choice((rng.randrange(0x200), rng.randrange(0x200) | 0x80000000))
        return pdu[:4] + struct.pack(">I", command_id) + pdu[8:]
    if kind == 5:  # junk between PDUs
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24))) + pdu
    if kind == 6:  # pure noise with a plausible length
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        return (
            _HEADER.pack(16 + len(body), rng.randrange(1 << 32), 0, rng.randrange(1 << 31)) + body
        )
    if kind == 7:  # random sequence number and status
        return (
            pdu[:8] + struct.pack(">II", rng.randrange(1 << 32), rng.randrange(1 << 32)) + pdu[16:]
        )
    if kind == 8:  # C-octet strings without their NUL
        return _with_length(pdu.replace(b"\x00", b"A", rng.randrange(1, 6)), size)
    return pdu  # valid, so the session keeps some state worth breaking


def mutations(seed: int) -> Iterator[bytes]:
    """An endless, reproducible stream of mutated PDUs.

    Args:
        seed: Seed of the stream.

    Yields:
        Octets to send.
    """
    rng = random.Random(seed)
    seeds = seed_pdus()
    while True:
        yield mutate(rng, rng.choice(seeds))


@dataclass
class FuzzReport:
    """What a fuzz run saw from the client side."""

    sent: int = 0
    """Mutated PDUs written."""
    connections: int = 0
    """Fuzz connections opened."""
    monitor_submits: int = 0
    """Submissions of the well-behaved ESME."""
    monitor_unanswered: int = 0
    """Of those, not answered within one second (must stay 0)."""
    latencies_ms: list[float] = field(default_factory=list)
    """submit_sm_resp latency of the monitor."""

    def percentile(self, q: float) -> float:
        """Latency percentile in ms (nearest rank)."""
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, max(0, round(q * len(data)) - 1))]


async def _fuzz_worker(
    host: str, port: int, stream: Iterator[bytes], budget: list[int], report: FuzzReport
) -> None:
    while budget[0] > 0:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        report.connections += 1
        drain = asyncio.create_task(_discard(reader))
        try:
            writer.write(encode(BindTransceiver(1, system_id="fuzz", password="pw")))
            for _ in range(random.Random(budget[0]).randrange(20, 200)):
                if budget[0] <= 0 or drain.done() or writer.transport.is_closing():
                    break
                budget[0] -= 1
                writer.write(next(stream))
                report.sent += 1
                async with asyncio.timeout(5):
                    await writer.drain()
                await asyncio.sleep(0)  # let the server's answers (and its close) arrive
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)


async def _discard(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass


async def _monitor(host: str, port: int, stop: asyncio.Event, report: FuzzReport) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(encode(BindTransceiver(1, system_id="monitor", password="pw")))
    await reader.readexactly(_HEADER.unpack(await reader.readexactly(16))[0] - 16)
    loop = asyncio.get_running_loop()
    seq = 1
    try:
        while not stop.is_set():
            seq += 1
            writer.write(
                encode(
                    SubmitSm(seq, source_addr="MON", destination_addr="8190", short_message=b"m")
                )
            )
            started = loop.time()
            report.monitor_submits += 1
            try:
                async with asyncio.timeout(1.0):
                    while True:  # skip receipts and keep-alives, answer nothing (rd=0)
                        length, command_id, _, got = _HEADER.unpack(await reader.readexactly(16))
                        await reader.readexactly(length - 16)
                        if command_id == 0x15:
                            writer.write(_HEADER.pack(16, 0x80000015, 0, got))
                        if command_id == 0x80000004 and got == seq:
                            break
                report.latencies_ms.append((loop.time() - started) * 1000)
            except TimeoutError:
                report.monitor_unanswered += 1
            await asyncio.sleep(0.005)
    finally:
        writer.close()


async def fuzz(
    host: str,
    port: int,
    count: int,
    *,
    seed: int = 1,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> FuzzReport:
    """Send ``count`` mutated PDUs over ``workers`` connections while a monitor submits.

    Args:
        host: Server address.
        port: Server port.
        count: Mutated PDUs to send in all.
        seed: Seed of the mutation stream.
        workers: Concurrent fuzz connections.
        progress: Called with the number sent, about every 10 %.

    Returns:
        The report.
    """
    report = FuzzReport()
    stream = mutations(seed)
    budget = [count]
    stop = asyncio.Event()
    monitor = asyncio.create_task(_monitor(host, port, stop, report))
    tasks = [
        asyncio.create_task(_fuzz_worker(host, port, stream, budget, report))
        for _ in range(workers)
    ]
    if progress is not None:
        step = max(1, count // 10)
        mark = step
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.05)
            if report.sent >= mark:
                progress(report.sent)
                mark += step
    await asyncio.gather(*tasks)
    stop.set()
    await monitor
    return report


# --------------------------------------------------------------------------------------------
# The long run: server in a child process, RSS measured there
# --------------------------------------------------------------------------------------------

_SERVER = """
import asyncio, gc, json, sys
from dataclasses import asdict
from simulator.config import config_from_mapping
from simulator.server import SimulatorServer

async def main():
    config = config_from_mapping({
        "receipts": {"delay_s": 0.05},
        "timers": {"pdu_read_s": 0.5, "session_init_s": 2},
        # Tight bounds, so that what the fuzz legitimately leaves behind (messages scheduled
        # far ahead, receipts for sessions that are gone) saturates early and RSS goes flat.
        "store": {"capacity": 1000, "max_pending": 1000},
        "default_account": {"max_queued_deliveries": 500},
    })
    server = SimulatorServer(config)
    await server.start(host="127.0.0.1", port=0)
    print(json.dumps({"port": server.address[1]}), flush=True)
    while True:
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        gc.collect()
        core = server.core
        state = {"objects": len(gc.get_objects()), "records": len(core.store),
                 "pending": core.store.pending, "queued": core.queues.total,
                 "links": len(core.links), "accounts": len(core.accounts)}
        print(json.dumps({**asdict(server.stats), **state}), flush=True)
    await server.stop(grace=0.5)

asyncio.run(main())
"""


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    """Run the long fuzz and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        port = json.loads(child.stdout.readline())["port"]
        start_rss = rss_mib(child.pid)
        print(f"server pid {child.pid} on port {port}; RSS at start {start_rss:.1f} MiB")
        samples: list[tuple[int, float, int]] = []

        def ask() -> dict[str, int]:
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.write("stats\n")
            child.stdin.flush()
            answer: dict[str, int] = json.loads(child.stdout.readline())
            return answer

        def progress(sent: int) -> None:
            state = ask()  # blocks the fuzz briefly: a gc pass in the server
            objects = state["objects"]
            samples.append((sent, rss_mib(child.pid), objects))
            print(
                f"  {sent:>9,} sent  server RSS {samples[-1][1]:.1f} MiB, "
                f"{objects:,} Python objects, {state['records']} messages stored, "
                f"{state['pending']} pending, {state['queued']} deliveries queued",
                flush=True,
            )

        started = time.perf_counter()
        report = asyncio.run(
            fuzz(
                "127.0.0.1",
                port,
                args.count,
                seed=args.seed,
                workers=args.workers,
                progress=progress,
            )
        )
        elapsed = time.perf_counter() - started
        time.sleep(1.0)
        end_rss = rss_mib(child.pid)
        alive = child.poll() is None
        stats = ask()
        warm = samples[0][1] if samples else start_rss
        warm_objects = samples[0][2] if samples else stats["objects"]
        print(
            f"sent {report.sent:,} mutated PDUs over {report.connections:,} connections in "
            f"{elapsed:.1f} s ({report.sent / elapsed:,.0f}/s)"
        )
        print(
            f"monitor: {report.monitor_submits:,} submits, {report.monitor_unanswered} "
            f"unanswered; latency p50 {report.percentile(0.5):.2f} ms, "
            f"p99 {report.percentile(0.99):.2f} ms, max {max(report.latencies_ms or [0]):.2f} ms"
        )
        print(
            f"server RSS: start {start_rss:.1f} MiB, after 10 % {warm:.1f} MiB, "
            f"end {end_rss:.1f} MiB (growth after warm-up {end_rss - warm:+.1f} MiB); "
            f"Python objects after 10 % {warm_objects:,}, end {stats['objects']:,}; alive={alive}"
        )
        keys = (
            "connections_total",
            "protocol_errors",
            "submits",
            "accepted",
            "refused",
            "bind_failures",
            "internal_errors",
            "handler_errors",
            "records",
            "pending",
            "queued",
            "links",
            "accounts",
        )
        print("server counters: " + ", ".join(f"{k}={stats.get(k)}" for k in keys))
        ok = alive and report.monitor_unanswered == 0 and stats.get("internal_errors") == 0
        print("RESULT:", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    sys.exit(main())
