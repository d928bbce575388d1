"""`smsh bench`: run every performance measurement and print one table (bench/suite.py).

The suite lives in ``bench/`` (a directory of the repository, not an installed package), so
this command works from a checkout only; it puts the repository root on ``sys.path`` when
needed. Exit codes: 0 the suite ran (skipped and failed items are shown in the table);
2 a usage error, or ``bench/`` is not there.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

_ROOT = Path(__file__).resolve().parents[2]


def _suite() -> ModuleType | None:
    if not (_ROOT / "bench" / "suite.py").exists():
        return None
    if str(_ROOT) not in sys.path:
        sys.path.insert(0, str(_ROOT))
    return importlib.import_module("bench.suite")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh bench` (those of ``python -m bench.suite``)."""
    suite = _suite()
    if suite is not None:
        suite.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the suite; returns the exit code."""
    suite = _suite()
    if suite is None:
        print(f"smsh bench: {_ROOT / 'bench'} not found (run from a checkout)", file=sys.stderr)
        return 2
    code: int = suite.run(args)
    return code
