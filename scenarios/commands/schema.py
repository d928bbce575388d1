"""`smsh schema`: print, write or check the scenario JSON schema (`scenarios/schema.json`).

Exit codes: 0 done (or the committed file matches); 1 the committed file differs from the models
(``--check``), with a one-line hint on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scenarios.schema import SCHEMA_PATH, schema_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh schema`."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--write", action="store_true", help=f"write the schema to {SCHEMA_PATH.name}"
    )
    group.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the committed schema differs from the models",
    )
    parser.add_argument(
        "--path",
        type=Path,
        default=SCHEMA_PATH,
        metavar="FILE",
        help="schema file (default: scenarios/schema.json)",
    )


def run(args: argparse.Namespace) -> int:
    """Print, write or check the schema; returns the exit code."""
    text = schema_json()
    path: Path = args.path
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
        return 0
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(
                f"smsh schema: {path} is out of date; run scripts/write_schema.py",
                file=sys.stderr,
            )
            return 1
        return 0
    sys.stdout.write(text)
    return 0
