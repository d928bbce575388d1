"""`smsh tui`: the operator console, watching every gateway and simulator through MQTT.

Screens (keys 1-5): 1 overview (binds, queues, rates), 2 messages, 3 handset, 4 scenario,
5 campaigns (each dunning campaign's state, approver, exclusions, sent / deferred / delivered /
failed / replied and cost, from the gateways' ``campaign_progress`` events).

Exit codes: 0 the operator quit; 1 the console ended on an error; 2 a usage error (a bus URL or
time zone that cannot be used).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sms.bus import Bus, BusUrlError, bus_from_url

#: The help line of the subcommand (for `scenarios.cli.COMMANDS`).
HELP = "operator console: binds, queues, messages, handsets, scenario, campaigns; controls"
DEFAULT_URL = "mqtt://127.0.0.1:1883"
#: The screens and their keys (the epilog of ``smsh tui --help``).
SCREENS = (
    "screens: 1 overview, 2 messages, 3 handset, 4 scenario, 5 campaigns (state, approver, "
    "exclusions, sent/deferred/delivered/failed/replied and cost of each dunning campaign)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh tui`."""
    parser.epilog = SCREENS
    parser.add_argument(
        "--mqtt",
        default=DEFAULT_URL,
        metavar="URL",
        help=f"the bus to watch: mqtt://HOST[:PORT][?client_id=ID] (default: {DEFAULT_URL})",
    )
    parser.add_argument(
        "--tz",
        default="UTC",
        metavar="ZONE",
        help="show times in this IANA time zone, e.g. Asia/Tokyo (default: UTC)",
    )
    parser.add_argument("--title", default=None, help="title shown in the header")
    parser.add_argument(
        "--instance",
        default=None,
        metavar="ID",
        help="this console's instance id on the bus (default: tui-<pid>)",
    )


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    return ZoneInfo(name)


def run(args: argparse.Namespace) -> int:
    """Run the console until the operator quits.

    Args:
        args: Parsed arguments (see `add_arguments`).

    Returns:
        The exit code.
    """
    try:
        bus = bus_from_url(args.mqtt)
    except BusUrlError as exc:
        print(f"smsh tui: {exc}", file=sys.stderr)
        return 2
    try:
        zone = _zone(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"smsh tui: unknown time zone {args.tz!r}", file=sys.stderr)
        return 2
    return asyncio.run(_console(bus, zone, args.title, args.instance))


async def _console(bus: Bus, zone: tzinfo, title: str | None, instance: str | None) -> int:
    # Textual is imported only when the console runs, so other commands do not pay for it.
    from tui import run_tui

    async with bus:
        return await run_tui(bus, title=title, tz=zone, instance=instance)
