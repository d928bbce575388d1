"""`smsh simulator`: run the simulated SMSC (SMPP 3.4 server) until Ctrl-C.

Prints where it listens, the accounts and their limits, then live counters: on a terminal one
line refreshed every second (binds, submits/s, receipts/s, queued receipts), otherwise one line
every ten seconds. Ctrl-C (or SIGTERM) stops cleanly: the listeners close, every bound session
is sent unbind, and the connections close once answered (two seconds at most).

With a ``network:`` section in the configuration the carrier model
(``simulator.network.CarrierNetwork`` through ``simulator.carrier.CarrierNetworkHandler``)
decides every message's fate, on a simulated clock starting at the network's epoch; ``--http-port``
(or a ``lookup:`` section) also serves the lookup API (``simulator.lookup``) and prints its URL.
With ``--bus`` the simulator also answers the operator controls ``inject_fault`` and
``clear_fault`` (``simulator.control.SimulatorControls``) on that bus.

Exit codes: 0 stopped cleanly; 2 invalid configuration (the file and field are named), a lookup
API without a network section, or a port that cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TextIO

from simulator.carrier import CarrierNetworkHandler, carrier_handler
from simulator.config import LookupConfig, SimulatorConfig, load_config
from simulator.control import SimulatorControls
from simulator.errors import ConfigError
from simulator.lookup import running_lookup
from simulator.network.network import CarrierNetwork
from simulator.server import ServerStats, SimulatorServer
from sms.bus.bus import Bus
from sms.bus.errors import BusError
from sms.bus.url import bus_from_url
from sms.clock import ScaledClock

HELP = "run the simulated SMSC (SMPP 3.4 server) until Ctrl-C"
"""One-line help for scenarios/cli.py."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh simulator`."""
    parser.add_argument(
        "--config", metavar="FILE", help="YAML configuration (default: open mode, receipts on)"
    )
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default 2775)")
    parser.add_argument(
        "--bus", metavar="URL", default=None, help="publish events, e.g. mqtt://127.0.0.1:1883"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print the banner only, no live counters"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the lookup API on this port (0 = any free port; needs a network section)",
    )


def _limit(value: object) -> str:
    return "-" if value is None else str(value)


def describe(config: SimulatorConfig, server: SimulatorServer) -> list[str]:
    """The banner: addresses, mode, accounts and limits.

    Args:
        config: The configuration in force.
        server: The started server.

    Returns:
        Lines to print.
    """
    address = server.address or (config.host, config.port)
    lines = [f"smsh simulator: SMPP 3.4 SMSC listening on {address[0]}:{address[1]}"]
    if server.tls_address is not None:
        lines.append(f"  TLS listener on {server.tls_address[0]}:{server.tls_address[1]}")
    receipts = config.receipts
    if config.network is not None:
        net = config.network
        lines.append(
            f"  system_id {config.system_id}; carrier model: seed {net.seed}, scenario "
            f"{net.scenario_id}, epoch {net.config.epoch.isoformat()}, speed {net.speed:g}x"
        )
    else:
        lines.append(
            f"  system_id {config.system_id}; receipts {receipts.stat} after "
            f"{receipts.delay_s:g} s; message ids {config.message_ids.format}"
        )
    if config.is_open:
        limits = config.default_account
        lines.append(
            "  open mode: any system_id/password binds "
            f"(max_tps {_limit(limits.max_tps)}, window {_limit(limits.window)}, "
            f"max_queue {_limit(limits.max_queue)})"
        )
    for account in config.accounts:
        nets = ",".join(str(n) for n in account.allow_from) or "any"
        lines.append(
            f"  account {account.system_id}: modes {','.join(account.bind_modes)}; "
            f"max_binds {_limit(account.max_binds)}; from {nets}; "
            f"max_tps {_limit(account.max_tps)}; window {_limit(account.window)}; "
            f"max_queue {_limit(account.max_queue)}; receipts {'on' if account.receipts else 'off'}"
        )
    lockout = config.lockout
    if lockout.enabled:
        lines.append(
            f"  lockout: {lockout.max_failures} failed binds in {lockout.window_s:g} s "
            f"-> refused for {lockout.lockout_s:g} s"
        )
    lines.append("  Ctrl-C to stop")
    return lines


def counters(now: ServerStats, before: ServerStats, queued: int, seconds: float) -> str:
    """One status line.

    Args:
        now: Current counters.
        before: Counters at the previous line.
        queued: Deliveries waiting for a receiver.
        seconds: Time between the two.

    Returns:
        The line.
    """
    span = seconds if seconds > 0 else 1.0
    submits = (now.submits - before.submits) / span
    receipts = (now.receipts_sent - before.receipts_sent) / span
    return (
        f"binds {now.binds} | submits/s {submits:,.0f} | receipts/s {receipts:,.0f} | "
        f"queued receipts {queued} | accepted {now.accepted:,} | throttled {now.throttled:,} | "
        f"refused {now.refused:,}"
    )


async def serve(
    config: SimulatorConfig,
    *,
    host: str | None,
    port: int | None,
    bus: Bus | None,
    out: TextIO,
    live: bool,
    stop: asyncio.Event,
    lookup: LookupConfig | None = None,
) -> None:
    """Run a server until ``stop`` is set, printing the banner and the counters.

    Args:
        config: The configuration.
        host: Listen address override.
        port: Listen port override.
        bus: Bus to publish on, already entered, or None.
        out: Where to print.
        live: Print counters.
        stop: Set to stop.
        lookup: Serve the lookup API here (needs ``config.network``); default ``config.lookup``.
    """
    lookup = lookup if lookup is not None else config.lookup
    handler: CarrierNetworkHandler | None = None
    network: CarrierNetwork | None = None
    clock: ScaledClock | None = None
    if config.network is not None:
        handler, clock = carrier_handler(config.network)
        network = handler.network
    server = SimulatorServer(config, bus=bus, handler=handler, clock=clock)
    await server.start(host=host, port=port)
    try:
        async with contextlib.AsyncExitStack() as stack:
            url: str | None = None
            if lookup is not None:
                if network is None or clock is None:
                    raise ConfigError("the lookup API needs a network section", field="lookup")
                url = await stack.enter_async_context(
                    running_lookup(network, clock, lookup.host, lookup.port)
                )
            if bus is not None:
                await stack.enter_async_context(SimulatorControls(server))
            banner = describe(config, server)
            if url is not None:
                banner.insert(-1, f"  lookup API on {url}")
            for line in banner:
                print(line, file=out, flush=True)
            await _live(server, out, live, stop)
    finally:
        stats = server.stats
        await server.stop()
        print(
            f"\nstopped: {stats.binds_total} binds, {stats.submits:,} submits "
            f"({stats.accepted:,} accepted), {stats.receipts_sent:,} receipts sent",
            file=out,
            flush=True,
        )


async def _live(server: SimulatorServer, out: TextIO, live: bool, stop: asyncio.Event) -> None:
    """Print the counters until ``stop`` is set."""
    tty = out.isatty()
    interval = 1.0 if tty else 10.0
    loop = asyncio.get_running_loop()
    before = ServerStats(**_copy(server.stats))
    then = loop.time()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await stop.wait()
        if not live or stop.is_set():
            continue
        current = ServerStats(**_copy(server.stats))
        now = loop.time()
        line = counters(current, before, server.queued_deliveries, now - then)
        if tty:
            print(f"\r\x1b[K{line}", end="", file=out, flush=True)
        else:
            print(line, file=out, flush=True)
        before, then = current, now


def _copy(stats: ServerStats) -> dict[str, int]:
    return {name: getattr(stats, name) for name in ServerStats.__dataclass_fields__}


async def _main(args: argparse.Namespace, config: SimulatorConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        bus = await stack.enter_async_context(bus_from_url(args.bus)) if args.bus else None
        await serve(
            config,
            host=args.host,
            port=args.port,
            bus=bus,
            out=sys.stdout,
            live=not args.quiet,
            stop=stop,
            lookup=_lookup(args, config),
        )
    return 0


def _lookup(args: argparse.Namespace, config: SimulatorConfig) -> LookupConfig | None:
    """The lookup API's address: ``--http-port`` overrides the configuration's port."""
    port: int | None = getattr(args, "http_port", None)
    if port is None:
        return config.lookup
    host = config.lookup.host if config.lookup is not None else "127.0.0.1"
    return LookupConfig(host=host, port=port)


def run(args: argparse.Namespace) -> int:
    """Run the simulator until Ctrl-C; returns the exit code."""
    try:
        config = load_config(args.config) if args.config else SimulatorConfig()
    except ConfigError as exc:
        print(f"smsh simulator: {exc}", file=sys.stderr)
        return 2
    if _lookup(args, config) is not None and config.network is None:
        print(
            "smsh simulator: --http-port (the lookup API) needs a network section in --config",
            file=sys.stderr,
        )
        return 2
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(_main(args, config))
    except OSError as exc:
        print(f"smsh simulator: cannot listen: {exc}", file=sys.stderr)
        return 2
    except BusError as exc:
        print(f"smsh simulator: bus: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover - the signal handler normally catches it
        return 0
