"""`smsh load`: submit N messages through the full gateway path and report rates and latencies.

Exit codes: 0 every message reached its final state in time; 1 the wait timed out (the summary
is still printed); 2 a usage error (bad ``--smsc``, invalid option combination).

Also runnable as ``python -m scenarios.commands.load ARGS`` (the crash test and the benchmark
use that form).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.errors import GatewayError
from gateway.load import LoadOptions, LoadReport, run_load


def _smsc(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh load`."""
    parser.add_argument(
        "--smsc", type=_smsc, required=True, metavar="HOST:PORT", help="the SMSC to bind to"
    )
    parser.add_argument("--system-id", required=True, metavar="ID", help="SMPP system_id")
    parser.add_argument("--password", default="", metavar="PW", help="SMPP password")
    parser.add_argument(
        "--count", type=int, required=True, metavar="N", help="messages to submit (0: resume)"
    )
    parser.add_argument("--window", type=int, default=10, metavar="W", help="window per bind")
    parser.add_argument("--binds", type=int, default=1, metavar="B", help="sessions (default 1)")
    parser.add_argument(
        "--rate", type=float, default=None, metavar="R", help="global limit, parts per second"
    )
    parser.add_argument(
        "--text",
        default="Load test message {i}",
        metavar="T",
        help="message text; {i} becomes the message number",
    )
    parser.add_argument("--source", default="LOADTEST", metavar="SENDER", help="sender ID")
    parser.add_argument(
        "--db", type=Path, default=None, metavar="PATH", help="store file (default: temporary)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="wait for final states (300)"
    )
    parser.add_argument(
        "--no-receipts",
        action="store_true",
        help="do not ask for receipts; wait until every message is submitted",
    )
    parser.add_argument(
        "--sync",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="store durability: FULL (power loss) or NORMAL (process crash) (default FULL)",
    )
    parser.add_argument(
        "--mode", choices=["transceiver", "transmitter"], default="transceiver", help="bind type"
    )
    parser.add_argument(
        "--response-timeout", type=float, default=30.0, metavar="S", help="submit_sm_resp timer"
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _options(args: argparse.Namespace) -> LoadOptions:
    host, port = args.smsc
    return LoadOptions(
        host=host,
        port=port,
        system_id=args.system_id,
        password=args.password,
        count=args.count,
        window=args.window,
        binds=args.binds,
        rate=args.rate,
        text=args.text,
        source=args.source,
        db=args.db,
        timeout=args.timeout,
        wait="responses" if args.no_receipts else "receipts",
        synchronous=args.sync,
        mode=args.mode,
        response_timeout=args.response_timeout,
    )


def _summary(report: LoadReport) -> str:
    lat = report.latency_ms
    resp, rcpt = lat["submit_to_resp"], lat["submit_to_receipt"]
    states = ", ".join(f"{k} {v}" for k, v in report.states.items()) or "-"
    errors = ", ".join(f"{k} {v}" for k, v in report.errors.items()) or "none"
    lines = [
        f"messages    {report.submitted} submitted, {report.in_store} in store"
        f"{'' if report.complete else '  (TIMED OUT before all were final)'}",
        f"binds       {report.binds} x window {report.window}",
        f"elapsed     {report.elapsed_s:.2f} s (accepts {report.accept_s:.2f} s)",
        f"submit      {report.submit_rate:,.0f} msg/s  ({report.responses_ok} ESME_ROK, "
        f"{report.parts_sent} submit_sm written)",
        f"receipts    {report.receipt_rate:,.0f} /s  ({report.receipts} received)",
        f"latency     submit->resp p50 {resp['p50']:.2f} ms  p99 {resp['p99']:.2f} ms",
        f"            submit->receipt p50 {rcpt['p50']:.2f} ms  p99 {rcpt['p99']:.2f} ms",
        f"states      {states}",
        f"errors      {errors}",
        f"memory      {report.rss_mb:.0f} MB peak RSS",
    ]
    if report.recovered:
        lines.append(f"recovered   {report.recovered} messages requeued at start-up")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the load test and print the summary; returns the exit code."""
    if args.count < 0 or args.window < 1 or args.binds < 1:
        print("smsh load: --count must be >= 0, --window and --binds >= 1", file=sys.stderr)
        return 2
    if args.count == 0 and args.db is None:
        print("smsh load: --count 0 (resume) needs --db", file=sys.stderr)
        return 2
    options = _options(args)
    runner: Any = asyncio.run
    if args.uvloop:
        import uvloop

        runner = uvloop.run
    try:
        report: LoadReport = runner(run_load(options))
    except GatewayError as exc:
        print(f"smsh load: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(_summary(report))
    return 0 if report.complete else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m scenarios.commands.load``."""
    parser = argparse.ArgumentParser(prog="smsh load", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
