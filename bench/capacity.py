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

``python -m bench.capacity`` runs one case (default 1x100) with the fixed fate and with the
carrier model, interleaved, several times, and prints each run's submit_sm/s and the server
child's CPU time per accepted message (utime + stime from /proc, over the measured run: less
sensitive to a busy machine than the wall-clock rate), then medians with min-max and the
model's cost (1 - carrier rate / fixed rate, and the CPU difference per message).

Invariants: every server started here is a child of the calling process and is stopped by the
context manager that started it (stdin closed, then SIGKILL after 5 s); nothing listens on
anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
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

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the child has used so far, in seconds."""
        assert self.process is not None
        return cpu_seconds(self.process.pid)

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


def cpu_seconds(pid: int) -> float:
    """CPU time (utime + stime, all threads) of process `pid` in seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # After the ")" that ends comm: state is field 3, utime field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def measure(*, carrier: bool, sessions: int, window: int, count: int) -> dict[str, Any]:
    """One capacity run as `bench.suite.measure_sim` makes it, plus the server's CPU time.

    Args:
        carrier: with the carrier model (`simulator_config`) instead of the fixed fate.
        sessions: concurrent connections.
        window: submit_sm in flight per connection.
        count: submit_sm in the measured run (after the warm-up).

    Returns:
        `drive`'s figures plus ``server_cpu_us`` (child CPU microseconds per accepted message
        over the measured run, warm-up excluded).
    """
    mapping = simulator_config(carrier=carrier, delivery_window=100, receipt_delay=0.0)
    with SimulatorChild(mapping) as sim:
        destinations = carrier_destinations() if carrier else None
        warmup = CARRIER_SUBSCRIBERS if carrier else min(count // 4, 5_000)
        if warmup:
            asyncio.run(
                drive(
                    "127.0.0.1",
                    sim.port,
                    sessions=1,
                    window=window,
                    count=warmup,
                    destinations=destinations,
                )
            )
        before = sim.cpu_seconds()
        result = asyncio.run(
            drive(
                "127.0.0.1",
                sim.port,
                sessions=sessions,
                window=window,
                count=count,
                destinations=destinations,
            )
        )
        used = sim.cpu_seconds() - before
    result["server_cpu_us"] = used * 1e6 / max(int(result["accepted"]), 1)
    return result


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def main(argv: list[str] | None = None) -> None:
    """Rate the simulator with the fixed fate and with the carrier model, interleaved."""
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=main.__doc__)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--count", type=int, default=50_000, help="submit_sm per measured run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median, min-max)")
    parser.add_argument("--only", choices=("fixed", "carrier"), help="one side only")
    args = parser.parse_args(argv)
    sides = [False, True] if args.only is None else [args.only == "carrier"]
    figures: dict[bool, dict[str, list[float]]] = {side: {"rate": [], "cpu": []} for side in sides}
    for run in range(args.runs):
        for carrier in sides:
            r = measure(
                carrier=carrier, sessions=args.sessions, window=args.window, count=args.count
            )
            figures[carrier]["rate"].append(r["submit_rate"])
            figures[carrier]["cpu"].append(r["server_cpu_us"])
            print(
                f"run {run + 1} {'carrier' if carrier else 'fixed  '}: "
                f"{r['submit_rate']:,.0f} submit_sm/s, {r['receipts']:,} receipts, "
                f"server {r['server_cpu_us']:.1f} us CPU/msg",
                flush=True,
            )
    for carrier in sides:
        name = "carrier" if carrier else "fixed  "
        f = figures[carrier]
        print(f"{name}: {_summary(f['rate'])} submit_sm/s, {_summary(f['cpu'])} us CPU/msg")
    if len(sides) == 2:
        fixed, model = figures[False], figures[True]
        cost = 1 - statistics.median(model["rate"]) / statistics.median(fixed["rate"])
        extra = statistics.median(model["cpu"]) - statistics.median(fixed["cpu"])
        print(f"carrier model cost: {cost:.0%} of throughput, +{extra:.1f} us CPU/msg (medians)")


if __name__ == "__main__":
    main()
