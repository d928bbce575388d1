"""`smsh replay RUN`: run a recorded run again and report every per-message difference.

A run directory (`scenarios.ledger.RunDirectory`) holds the scenario copy (``scenario.yaml``),
``run.json`` (seed, speed) and the closed ledger. The replay loads the copy, runs it with the
recorded speed into a new run directory (under ``--runs``), and compares the two ledgers with
`scenarios.ledger.compare_ledgers`: per message key, the final state, refusal, parts, the final
receipt stat of each part and the audit events (misdelivery, spoof_blocked, ...). Timing, SMSC
ids and attempt counts are not compared (ARCHITECTURE.md rule 4: a message's fate is a function
of seed, scenario and key, never of arrival order).

Exit codes: 0 no difference; 1 differences (a table of them on stdout, or the JSON document with
``--json``); 2 the directory is not a usable run directory (the message names what is missing)
or the scenario cannot be run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from scenarios.errors import LedgerError, ScenarioError
from scenarios.ledger import Difference, LedgerReader, compare_ledgers
from scenarios.loader import load_scenario_text
from scenarios.report import render_differences
from scenarios.runner import RunOutcome, UnsupportedScenario, run_scenario
from scenarios.schema import Scenario
from sms.bus.errors import BusUrlError

#: The one-line help `scenarios.cli` shows for this command.
HELP = "re-run a recorded run directory and report per-message differences in outcome"

#: Layout of the ``--json`` document.
REPLAY_FORMAT = "smsh-replay/1"


class BadRunDirectory(ScenarioError):
    """The path is not a run directory a replay can use; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """What a replay needs from a run directory."""

    path: Path
    """The run directory."""
    run_id: str
    """Its run id (from run.json)."""
    scenario: Scenario
    """The scenario copy, loaded."""
    seed: int
    """The seed the run used."""
    speed: float
    """The speed the run used (simulated seconds per real second)."""
    build_version: str | None = None
    """What code the run used (`scenarios.ledger.build_version`), when recorded."""


def _float(meta: dict[str, Any], name: str, where: Path) -> float:
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise BadRunDirectory(f"{where}: {name!r} is missing or not a positive number")
    return float(value)


def recorded_run(path: Path) -> RecordedRun:
    """Check a run directory and load what a replay needs from it.

    Args:
        path: The run directory (``runs/<name>-<timestamp>``).

    Returns:
        The recorded run.

    Raises:
        BadRunDirectory: The path is not a directory, a file is missing or unreadable, the
            ledger was never closed (the run did not finish), or the scenario copy no longer
            loads. The message names the path and what is wrong.
    """
    if not path.is_dir():
        raise BadRunDirectory(f"{path}: not a directory (expected a run directory)")
    missing = [
        n for n in ("run.json", "scenario.yaml", "ledger.sqlite") if not (path / n).is_file()
    ]
    if missing:
        raise BadRunDirectory(f"{path}: not a run directory: missing {', '.join(missing)}")
    run_json = path / "run.json"
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRunDirectory(f"{run_json}: cannot read: {exc}") from None
    if not isinstance(meta, dict):
        raise BadRunDirectory(f"{run_json}: not a JSON object")
    seed = meta.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BadRunDirectory(f"{run_json}: 'seed' is missing or not an integer")
    speed = _float(meta, "speed", run_json)
    try:
        with LedgerReader(path) as reader:
            closed = bool(reader.meta().get("closed"))
    except LedgerError as exc:
        raise BadRunDirectory(str(exc)) from None
    if not closed:
        raise BadRunDirectory(
            f"{path / 'ledger.sqlite'}: the ledger was never closed (the run did not finish)"
        )
    copy = path / "scenario.yaml"
    try:
        text = copy.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRunDirectory(f"{copy}: cannot read: {exc}") from None
    # Relative paths in the scenario (campaign files) were resolved against the original file.
    source = meta.get("source_path")
    base = Path(source).resolve().parent if isinstance(source, str) else path
    if not base.is_dir():
        base = path
    try:
        scenario = load_scenario_text(text, str(copy), base_dir=base)
    except ScenarioError as exc:
        raise BadRunDirectory(f"the scenario copy no longer loads: {exc}") from None
    if scenario.seed != seed:
        raise BadRunDirectory(
            f"{path}: run.json says seed {seed} but the scenario copy says {scenario.seed}"
        )
    build = meta.get("build_version")
    return RecordedRun(
        path,
        str(meta.get("run_id", path.name)),
        scenario,
        seed,
        speed,
        build if isinstance(build, str) else None,
    )


async def replay(recorded: RecordedRun, *, runs: Path) -> tuple[RunOutcome, list[Difference]]:
    """Run a recorded run again and compare the two ledgers.

    Args:
        recorded: The recorded run (`recorded_run`).
        runs: Parent directory of the replay's run directory.

    Returns:
        The replay's outcome and the per-message differences (original first).

    Raises:
        UnsupportedScenario: The runner cannot run the scenario (any more).
    """
    outcome = await run_scenario(
        recorded.scenario,
        root=runs,
        speed=recorded.speed,
        extra_meta={"replay_of": recorded.run_id},
    )
    return outcome, compare_ledgers(recorded.path, outcome.run.path)


def replay_json(
    recorded: RecordedRun, outcome: RunOutcome, differences: list[Difference]
) -> dict[str, Any]:
    """The ``--json`` document of a replay.

    Args:
        recorded: The original run.
        outcome: The replay's outcome.
        differences: What differs.

    Returns:
        ``format``, ``original``, ``replay``, ``seed``, ``speed``, ``build_versions``
        (original, replay), ``identical``, ``messages_compared`` and ``differences`` (key,
        field, original, replay).
    """
    return {
        "format": REPLAY_FORMAT,
        "original": str(recorded.path),
        "replay": str(outcome.run.path),
        "seed": recorded.seed,
        "speed": recorded.speed,
        "build_versions": {
            "original": recorded.build_version,
            "replay": outcome.run.meta.get("build_version"),
        },
        "identical": not differences,
        "messages_compared": len(outcome.results.outcomes or {}),
        "differences": [
            {"key": d.key, "field": d.field, "original": d.a, "replay": d.b} for d in differences
        ],
    }


def execute(
    path: Path,
    *,
    as_json: bool = False,
    runs: Path = Path("runs"),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Replay one run directory and print what differs; returns the exit code.

    Args:
        path: The run directory to replay.
        as_json: Print the JSON document instead of the table.
        runs: Parent directory of the replay's run directory.
        out: Where the table or JSON goes (default: stdout).
        err: Where diagnostics go (default: stderr).

    Returns:
        0 no difference, 1 differences, 2 not a usable run directory or cannot run.
    """
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    try:
        recorded = recorded_run(path)
        outcome, differences = asyncio.run(replay(recorded, runs=runs))
    except (BadRunDirectory, UnsupportedScenario, ScenarioError, BusUrlError) as exc:
        print(f"smsh replay: {exc}", file=stderr)
        return 2
    if as_json:
        document = replay_json(recorded, outcome, differences)
        print(json.dumps(document, ensure_ascii=False, indent=2), file=stdout)
    else:
        print(render_differences(differences), file=stdout)
    print(f"smsh replay: replay run directory {outcome.run.path}", file=stderr)
    replay_build = outcome.run.meta.get("build_version")
    if differences and recorded.build_version != replay_build:
        # Differences between builds are as likely to come from the code as from chance.
        print(
            f"smsh replay: note: the original ran on {recorded.build_version or 'an unknown build'}"
            f", the replay on {replay_build}",
            file=stderr,
        )
    return 1 if differences else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh replay`."""
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory to replay")
    parser.add_argument(
        "--json", action="store_true", help="print the JSON document instead of the table"
    )
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="parent directory of the replay's run directory (default: runs)",
    )


def run(args: argparse.Namespace) -> int:
    """Run `smsh replay`; returns the exit code."""
    return execute(args.run_dir, as_json=args.json, runs=args.runs)
