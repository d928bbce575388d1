"""The `smsh` command line.

Each subcommand lives in its own module under `scenarios.commands` and is imported only when it
runs, so `smsh plan` does not pay for Textual or aiosmpplib. A command module provides
`add_arguments(parser)` and `run(args) -> int` (the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final, Protocol

#: subcommand -> (module, one-line help). Order is the order shown by `smsh --help`.
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "demo": (
        "scenarios.commands.demo",
        "run the showcase scenario (library/demo.yaml) in the console, or headless with progress",
    ),
    "run": (
        "scenarios.commands.run",
        "run a scenario file: simulator + gateway in one process, report, exit 1 on failures",
    ),
    "replay": (
        "scenarios.commands.replay",
        "re-run a recorded run directory and report per-message differences in outcome",
    ),
    "plan": ("scenarios.commands.plan", "show how a text is encoded and split into SMS parts"),
    "simulator": (
        "scenarios.commands.simulator",
        "run the simulated SMSC (SMPP 3.4 server) until Ctrl-C",
    ),
    "handset": (
        "scenarios.commands.handset",
        "show what a number's handset shows (threads by sender, flags) from the lookup API",
    ),
    "gateway": (
        "scenarios.commands.gateway",
        "run the SMPP client gateway and its HTTP API (serve | check --config FILE)",
    ),
    "load": (
        "scenarios.commands.load",
        "submit N messages through the full gateway path and report rates and latencies",
    ),
    "campaign": (
        "scenarios.commands.campaign",
        "dunning campaigns: import a CSV, preview, approve (second operator), send, report",
    ),
    "schema": (
        "scenarios.commands.schema",
        "write or check scenarios/schema.json (the JSON Schema of scenario files)",
    ),
    "bench": (
        "scenarios.commands.bench",
        "run every benchmark (codecs, simulator, gateway, peers, memory) and print one table",
    ),
    "tui": (
        "scenarios.commands.tui",
        "operator console: binds, queues, messages, handsets, scenario, campaigns; controls",
    ),
}


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> CommandModule:
    module: CommandModule = importlib.import_module(COMMANDS[name][0])
    return module


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsh",
        description="sms-harness: SMPP carrier simulator, gateway and scenario harness",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (_module, help_text) in COMMANDS.items():
        cmd_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            _load(name).add_arguments(cmd_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    return _load(args.command).run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
