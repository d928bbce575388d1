"""`smsh run FILE`: run a scenario (our simulator + our gateway, one process, loopback TCP).

Prints the report table (or, with ``--json``, the JSON report) on stdout and leaves the run
directory ``<runs>/<name>-<timestamp>/`` (scenario copy, run.json, ledger.sqlite, results.json,
report.html) behind; its path goes to stderr.

Exit codes: 0 every expectation holds; 1 some do not (each failed one is named on stderr with its
margin); 2 the file cannot be loaded, the scenario needs something the runner cannot do, or a
usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scenarios.errors import ScenarioError
from scenarios.loader import load_scenario
from scenarios.report import render_table
from scenarios.runner import ProgressCallback, RunOutcome, UnsupportedScenario, run_scenario
from sms.bus.errors import BusUrlError
from sms.bus.events import ScenarioProgress

#: The one-line help `scenarios.cli` shows for this command.
HELP = "run a scenario file: simulator + gateway in one process, report, exit 1 on failures"


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value!r}")
    return number


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options `smsh run` and `smsh demo` share."""
    parser.add_argument(
        "--json", action="store_true", help="print the JSON report instead of the table"
    )
    parser.add_argument(
        "--speed",
        type=_positive,
        default=None,
        metavar="N",
        help="simulated seconds per real second (default: the scenario's speed)",
    )
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="parent directory of run directories (default: runs)",
    )
    parser.add_argument(
        "--mqtt",
        default=None,
        metavar="URL",
        help=(
            "also publish events to this MQTT broker and accept controls from it, "
            "e.g. mqtt://127.0.0.1:1883"
        ),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh run`."""
    parser.add_argument("file", type=Path, metavar="FILE", help="the scenario file (YAML)")
    add_common_arguments(parser)


def progress_line(event: ScenarioProgress) -> str:
    """One line of the headless progress view.

    Args:
        event: Where the run stands.

    Returns:
        E.g. ``[running   12.0s  40%] pass 1  fail 0  pending 3``.
    """
    counts = {"pass": 0, "fail": 0, "pending": 0}
    for status in event.expectations:
        counts[status.status] = counts.get(status.status, 0) + 1
    share = "  ?%" if event.progress is None else f"{event.progress:4.0%}"
    failing = [s.name for s in event.expectations if s.status == "fail"]
    tail = f"  failing: {', '.join(failing)}" if failing else ""
    return (
        f"[{event.phase:<9} {event.elapsed_s:7.1f}s sim {share}] "
        f"pass {counts['pass']}  fail {counts['fail']}  pending {counts['pending']}{tail}"
    )


def stderr_progress(stream: TextIO | None = None) -> ProgressCallback:
    """A progress callback that writes `progress_line` to `stream` (default: stderr)."""

    def show(event: ScenarioProgress) -> None:
        print(progress_line(event), file=stream or sys.stderr, flush=True)

    return show


def execute(
    path: Path,
    *,
    as_json: bool = False,
    speed: float | None = None,
    runs: Path = Path("runs"),
    progress: ProgressCallback | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    command: str = "smsh run",
    bus_url: str | None = None,
) -> int:
    """Load and run one scenario file, print the report; returns the exit code.

    Args:
        path: The scenario file.
        as_json: Print the JSON report instead of the table.
        speed: Override the scenario's speed.
        runs: Parent directory of the run directory.
        progress: Progress callback (None: silent).
        out: Where the report goes (default: stdout).
        err: Where diagnostics go (default: stderr).
        command: How diagnostics name the command.
        bus_url: Also publish events to this bus (``mqtt://host:port``) and accept controls
            from it (None: the in-process bus only).

    Returns:
        0 all expectations hold, 1 some fail, 2 the scenario cannot be run.
    """
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        print(f"{command}: {exc}", file=stderr)
        return 2
    runner: Callable[..., RunOutcome] = asyncio.run
    try:
        outcome = runner(
            run_scenario(scenario, root=runs, speed=speed, progress=progress, bus_url=bus_url)
        )
    except (UnsupportedScenario, ScenarioError, BusUrlError) as exc:
        print(f"{command}: {exc}", file=stderr)
        return 2
    if as_json:
        print(json.dumps(outcome.report, ensure_ascii=False, indent=2), file=stdout)
    else:
        print(render_table(outcome.results, outcome.verdicts), file=stdout)
    print(f"{command}: run directory {outcome.run.path}", file=stderr)
    if outcome.passed:
        return 0
    for verdict in outcome.failed:
        print(f"{command}: FAILED {verdict.name}: {verdict.margin}", file=stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Run `smsh run`; returns the exit code."""
    return execute(
        args.file, as_json=args.json, speed=args.speed, runs=args.runs, bus_url=args.mqtt
    )
