"""Capacity runs for the suite: one pipelined client, the same for every SMSC it rates.

Every SMSC figure of ``smsh bench`` (our simulator with and without the carrier model, the
node-smpp server, the counting SMSC that shows the client's own ceiling) comes from
`drive`, which runs ``sessions`` concurrent `bench.peers.pipelined_esme` connections with the
same count, window and receipts (registered_delivery=1, every deliver_sm answered). So a ratio
between two SMSCs compares servers, not clients.

The simulator runs in a child process (`SimulatorChild`, uvloop when installed) configured from
a plain mapping (`simulator_config`); the client runs in the calling process. Two processes,
two cores: one each.

Figures of `drive` (messages per second):

* ``submit_rate``: all accepted submit_sm / (first send -> last submit_sm_resp of any session);
* ``receipt_rate``: all receipts / (first send -> last receipt of any session);
* ``accepted``, ``receipts``, ``errors``, ``timed_out`` as counted by the client.

Invariants: every server started here is a child of the calling process and is stopped by the
context manager that started it (stdin closed, then SIGKILL after 5 s); nothing listens on
anything but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from bench.peers.pipelined_esme import run_pipelined

ROOT: Final[Path] = Path(__file__).resolve().parents[1]

#: The simulator in a child process: argv[1] is its configuration as JSON. With a ``network``
#: section it runs the carrier model (handler and scaled clock from
#: `simulator.carrier.carrier_handler`, as ``smsh simulator`` builds them). Prints
#: {"port": N}, then one JSON line of counters per line read on stdin; stops when stdin closes.
_SIMULATOR_CHILD: Final[str] = """
import asyncio, json, sys
from simulator.carrier import carrier_handler
from simulator.config import config_from_mapping
from simulator.server import SimulatorServer

async def main(mapping):
    config = config_from_mapping(mapping)
    handler = clock = None
    if config.network is not None:  # as `smsh simulator` does: the section alone does nothing
        handler, clock = carrier_handler(config.network)
    server = SimulatorServer(config, handler=handler, clock=clock)
    await server.start(host="127.0.0.1", port=0)
    print(json.dumps({"port": server.address[1]}), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        s = server.stats
        print(json.dumps({"binds": s.binds, "accepted": s.accepted,
                          "receipts": s.receipts_sent}), flush=True)
    await server.stop(grace=0.2)

mapping = json.loads(sys.argv[1])
try:
    import uvloop
except ImportError:
    asyncio.run(main(mapping))
else:
    uvloop.run(main(mapping))
"""

#: Subscribers of the carrier population `simulator_config` generates: national numbers
#: 090-1000-0000 + i, the same numbers `smsh load` (gateway.load) sends to, in order.
CARRIER_SUBSCRIBERS: Final[int] = 10_000
_FIRST_SUBSCRIBER: Final[int] = 10_000_000
#: Simulated seconds per real second with the carrier model: one day per second, so that every
#: fate (delivery latency of seconds, absent handsets back after hours, expiry at the end of
#: validity) ends with a receipt within the run and a run can wait for all of them.
CARRIER_SPEED: Final[float] = 86_400.0


def carrier_destinations(count: int = CARRIER_SUBSCRIBERS) -> list[str]:
    """International forms (81 + national without the trunk 0) of the carrier population."""
    return [f"8190{_FIRST_SUBSCRIBER + i:08d}" for i in range(count)]


def simulator_config(
    *,
    carrier: bool,
    delivery_window: int,
    receipt_delay: float,
    subscribers: int = CARRIER_SUBSCRIBERS,
) -> dict[str, Any]:
    """The simulator's configuration for a capacity run.

    Args:
        carrier: use the carrier model (``network`` section) instead of the fixed fate.
        delivery_window: the outbound deliver_sm window per session (``delivery.window``).
        receipt_delay: the fixed fate's receipt delay (ignored with the carrier model).
        subscribers: the carrier population's size (`carrier_destinations` of that count are
            its numbers; ``smsh load`` of N messages needs N).

    Returns:
        A mapping for ``simulator.config.config_from_mapping``: open mode, no session timers,
        stores large enough for any run here. With the carrier model, a population that is
        exactly ``carrier_destinations(subscribers)`` (every destination a subscriber), no flow
        control (``max_tps`` off, so the figure is capacity, not the 600/s carrier cap),
        alphanumeric senders allowed (the clients send "ACME" / "LOADTEST", which the domestic
        route rejects by default), no receipt loss, simulated time at `CARRIER_SPEED`, and
        otherwise the model's defaults.
    """
    mapping: dict[str, Any] = {
        "receipts": {"delay_s": receipt_delay},
        "delivery": {"window": delivery_window},
        "limits": {"max_connections": 5000},
        "timers": {"enquire_link_s": None, "inactivity_s": None},
        "store": {"capacity": 1_000_000, "max_pending": 1_000_000},
    }
    if carrier:
        first = f"090{_FIRST_SUBSCRIBER:08d}"
        last = f"090{_FIRST_SUBSCRIBER + subscribers - 1:08d}"
        mapping["network"] = {
            "seed": 1,
            "scenario_id": "bench",
            "speed": CARRIER_SPEED,
            "config": {
                "population": {
                    "size": subscribers,
                    "ranges": [{"first": first, "last": last}],
                },
                "default_account": {"max_tps": None, "alphanumeric_policy": "allow"},
                "receipts": {"loss_rate": 0.0},
            },
        }
    return mapping


class SimulatorChild:
    """The simulator in a child process; ``with`` starts it and stops it."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.mapping = mapping
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SIMULATOR_CHILD, json.dumps(self.mapping)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the simulator child exited before listening")
        self.port = int(json.loads(line)["port"])
        return self

    def rss_mib(self) -> float:
        """The child's resident set size now, in MiB."""
        assert self.process is not None
        return rss_mib(self.process.pid)

    def stats(self) -> dict[str, int]:
        """The server's counters (binds, accepted, receipts sent)."""
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        result: dict[str, int] = json.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        """Close stdin (the child stops), SIGKILL it if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def rss_mib(pid: int) -> float:
    """Resident set size of process `pid` in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def drive(
    host: str,
    port: int,
    *,
    sessions: int,
    window: int,
    count: int,
    receipts: bool = True,
    destinations: list[str] | None = None,
    wait_receipts: bool = True,
    max_seconds: float = 120.0,
    warmup: int = 0,
) -> dict[str, Any]:
    """Rate one SMSC: `sessions` pipelined connections, `count` submit_sm in all.

    `destinations` and `wait_receipts` are passed to each connection
    (`bench.peers.pipelined_esme.run_pipelined`). With `warmup` > 0, one connection first sends
    that many (same window, receipts requested but not awaited) and is closed before the
    measured run: the server's first thousands of messages (allocations, caches) then do not
    count.

    Returns:
        The aggregate figures (see the module docstring) and ``sessions``/``window``/``count``.
    """
    if warmup > 0:
        await run_pipelined(
            host,
            port,
            warmup,
            window,
            receipts=receipts,
            max_seconds=max_seconds,
            system_id="warmup",
            destinations=destinations,
            wait_receipts=False,
        )
    per = max(count // sessions, 1)
    results = await asyncio.gather(
        *(
            run_pipelined(
                host,
                port,
                per,
                window,
                receipts=receipts,
                max_seconds=max_seconds,
                system_id=f"bench{i}",
                destinations=destinations,
                wait_receipts=wait_receipts,
            )
            for i in range(sessions)
        )
    )
    accepted = sum(int(r["accepted"]) for r in results)
    got = sum(int(r["receipts"]) for r in results)
    submit_span = max((r["submit_seconds"] or 0.0) for r in results)
    receipt_span = max((r["receipt_seconds"] or 0.0) for r in results)
    return {
        "sessions": sessions,
        "window": window,
        "count": per * sessions,
        "accepted": accepted,
        "errors": sum(int(r["errors"]) for r in results),
        "receipts": got,
        "timed_out": any(r["timed_out"] for r in results),
        "submit_rate": accepted / submit_span if submit_span > 0 else 0.0,
        "receipt_rate": got / receipt_span if receipt_span > 0 else 0.0,
    }
