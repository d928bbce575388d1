"""`smsh demo`: run the showcase scenario (scenarios/library/demo.yaml) and show it.

The same as ``smsh run scenarios/library/demo.yaml``, shown one of two ways (see
`scenarios.commands.run.choose_view`):

* On a terminal (stdout is a tty, no ``--json``, no ``--no-tui``): the operator console watches
  the run (binds, queues, messages, handsets, the scenario's expectations live; the operator's
  pause / rate / fault / drain controls reach the run's gateway). When the run ends the console
  says so; quitting it (``q``) prints the report.
* Otherwise, headless: one progress line per real second on stderr (phase, simulated time,
  share of the traffic handed over, and the expectations passed / failed / pending so far).

The report goes to stdout either way.

Exit codes: as `smsh run` (0 every expectation holds, 1 some fail, 2 cannot run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from scenarios.commands.run import (
    add_common_arguments,
    add_view_argument,
    choose_view,
    execute,
    stderr_progress,
)

#: The one-line help `scenarios.cli` shows for this command.
HELP = "run the showcase scenario (library/demo.yaml) in the console, or headless with progress"

#: The showcase scenario, shipped with the package.
DEMO_FILE: Final[Path] = Path(__file__).resolve().parents[1] / "library" / "demo.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh demo`."""
    add_common_arguments(parser)
    add_view_argument(parser, default_on=True)


def run(args: argparse.Namespace) -> int:
    """Run `smsh demo`; returns the exit code."""
    view, note = choose_view(
        args.tui,
        default_on=True,
        as_json=args.json,
        is_terminal=sys.stdout.isatty(),
        headless="progress",
    )
    if note is not None:
        print(f"smsh demo: {note}", file=sys.stderr)
    return execute(
        DEMO_FILE,
        as_json=args.json,
        speed=args.speed,
        runs=args.runs,
        progress=stderr_progress() if view == "progress" else None,
        command="smsh demo",
        bus_url=args.mqtt,
        view=view,
    )
