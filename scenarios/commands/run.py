"""`smsh run FILE`: run a scenario (our simulator + our gateway, one process, loopback TCP).

Prints the report table (or, with ``--json``, the JSON report) on stdout and leaves the run
directory ``<runs>/<name>-<timestamp>/`` (scenario copy, run.json, ledger.sqlite, results.json,
report.html) behind; its path goes to stderr.

The view while it runs (`choose_view`): with ``--tui`` and a terminal on stdout (and no
``--json``), the operator console (`tui.app.SmshApp`) watches the run's in-process bus, where
the runner publishes its progress as `ScenarioProgress` (component ``scenario``), and the
report is printed once the operator quits the console; quitting before the run ends leaves the
console and the run goes on with the headless progress view. Otherwise the run is headless
(`smsh demo` adds a progress line per second on stderr).

Exit codes: 0 every expectation holds; 1 some do not (each failed one is named on stderr with its
margin); 2 the file cannot be loaded, the scenario needs something the runner cannot do, or a
usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from scenarios.errors import ScenarioError
from scenarios.loader import load_scenario
from scenarios.report import render_table
from scenarios.runner import ProgressCallback, RunOutcome, UnsupportedScenario, run_scenario
from scenarios.schema import Scenario
from sms.bus.bus import Bus
from sms.bus.errors import BusUrlError
from sms.bus.events import ScenarioProgress
from sms.bus.memory import InMemoryBus
from sms.clock import ScaledClock

if TYPE_CHECKING:
    from tui.app import SmshApp

View = Literal["tui", "progress", "quiet"]
"""How a run is shown: the console, a progress line per second on stderr, or nothing."""

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


def add_view_argument(parser: argparse.ArgumentParser, *, default_on: bool) -> None:
    """Declare ``--tui`` / ``--no-tui`` (the console needs a terminal on stdout and no --json).

    Args:
        parser: The command's parser.
        default_on: Whether the console is shown on a terminal unless ``--no-tui`` is given.
    """
    when = "on by default on a terminal" if default_on else "off by default"
    parser.add_argument(
        "--tui",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"watch the run in the operator console, then print the report ({when})",
    )


def choose_view(
    tui: bool | None, *, default_on: bool, as_json: bool, is_terminal: bool, headless: View
) -> tuple[View, str | None]:
    """Decide how a run is shown.

    Args:
        tui: ``--tui`` (True), ``--no-tui`` (False) or neither (None).
        default_on: Whether the console is wanted when neither flag is given.
        as_json: ``--json`` was given (the console never mixes with a JSON report).
        is_terminal: stdout is a terminal.
        headless: The view to use when the console is not (``progress`` or ``quiet``).

    Returns:
        The view, and a note for stderr when ``--tui`` was asked for but cannot be honoured.
    """
    wanted = default_on if tui is None else tui
    if not wanted:
        return headless, None
    if as_json:
        return headless, "--tui is ignored with --json" if tui else None
    if not is_terminal:
        return headless, "--tui needs a terminal on stdout; running headless" if tui else None
    return "tui", None


def make_console(scenario: Scenario, bus: Bus, *, speed: float | None, title: str) -> SmshApp:
    """The operator console for a run of `scenario` on `bus` (not started).

    Its clock runs like the runner's (the scenario's start, at the run's speed), so the ages
    and rates it shows are in scenario time.
    """
    # Textual is imported only when the console is shown.
    from tui.app import SmshApp

    rate = scenario.speed if speed is None else speed
    return SmshApp(bus, clock=ScaledClock(scenario.start_s, rate), title=title)


async def watch_run(
    scenario: Scenario,
    *,
    runs: Path,
    speed: float | None = None,
    bus_url: str | None = None,
    title: str,
    err: TextIO | None = None,
    headless: bool = False,
    stay_open: bool = True,
) -> RunOutcome:
    """Run `scenario` while the operator console shows it; returns when both are done.

    Args:
        scenario: The scenario.
        runs: Parent directory of the run directory.
        speed: Override the scenario's speed.
        bus_url: Also mirror the run to this bus.
        title: The console's title.
        err: Where the progress lines go once the console is closed (default: stderr).
        headless: Run the console without a terminal (automation and tests).
        stay_open: Keep the console open after the run until the operator quits (False:
            close it when the run ends).

    Returns:
        The run's outcome.
    """
    async with InMemoryBus() as bus:
        app = make_console(scenario, bus, speed=speed, title=title)
        console = asyncio.create_task(app.run_async(headless=headless))
        subscribed = asyncio.create_task(app.wait_until_subscribed())
        await asyncio.wait({console, subscribed}, return_when=asyncio.FIRST_COMPLETED)
        subscribed.cancel()
        lines = stderr_progress(err)

        def after_console(event: ScenarioProgress) -> None:
            if console.done():
                lines(event)

        try:
            # The runner publishes its progress on `bus` too: the console's scenario screen.
            outcome = await run_scenario(
                scenario,
                root=runs,
                speed=speed,
                progress=after_console,
                bus_url=bus_url,
                bus=bus,
            )
        except BaseException:
            app.exit(return_code=1)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await console
            raise
        if not console.done():
            verdict = "passed" if outcome.passed else f"{len(outcome.failed)} expectation(s) failed"
            if stay_open:
                app.notify(
                    f"Run finished: {verdict}. Press q to quit and print the report.",
                    title=scenario.name,
                    timeout=3600,
                )
            else:
                app.exit()
        await console
        return outcome


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh run`."""
    parser.add_argument("file", type=Path, metavar="FILE", help="the scenario file (YAML)")
    add_common_arguments(parser)
    add_view_argument(parser, default_on=False)


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
    view: View = "quiet",
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
        view: ``tui``: watch the run in the operator console (`watch_run`), the report once
            it closes; otherwise `progress` alone decides what is shown during the run.

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
        if view == "tui":
            title = f"{command} · {scenario.name}"
            outcome = runner(
                watch_run(scenario, runs=runs, speed=speed, bus_url=bus_url, title=title, err=err)
            )
        else:
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
    view, note = choose_view(
        args.tui,
        default_on=False,
        as_json=args.json,
        is_terminal=sys.stdout.isatty(),
        headless="quiet",
    )
    if note is not None:
        print(f"smsh run: {note}", file=sys.stderr)
    return execute(
        args.file,
        as_json=args.json,
        speed=args.speed,
        runs=args.runs,
        bus_url=args.mqtt,
        view=view,
        progress=stderr_progress() if view == "progress" else None,
    )
