"""`smsh demo`: run the showcase scenario (scenarios/library/demo.yaml) with a progress view.

The same as ``smsh run scenarios/library/demo.yaml``, plus a headless progress view: one line
per real second on stderr (phase, simulated time, share of the traffic handed over, and the
expectations passed / failed / pending so far). The report goes to stdout.

Exit codes: as `smsh run` (0 every expectation holds, 1 some fail, 2 cannot run).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from scenarios.commands.run import add_common_arguments, execute, stderr_progress

#: The one-line help `scenarios.cli` shows for this command.
HELP = "run the showcase scenario (library/demo.yaml) with a progress line per second on stderr"

#: The showcase scenario, shipped with the package.
DEMO_FILE: Final[Path] = Path(__file__).resolve().parents[1] / "library" / "demo.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh demo`."""
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run `smsh demo`; returns the exit code."""
    return execute(
        DEMO_FILE,
        as_json=args.json,
        speed=args.speed,
        runs=args.runs,
        progress=stderr_progress(),
        command="smsh demo",
        bus_url=args.mqtt,
    )
