#!/usr/bin/env python3
"""Write `scenarios/schema.json` from `Scenario.model_json_schema()` (``--check`` to verify).

Usage: ``.venv/bin/python scripts/write_schema.py [--check]``. The drift test
(`tests/unit/scenario/test_schema.py`) fails when the committed file and the models disagree.
"""

from __future__ import annotations

import argparse
import sys

from scenarios.commands import schema as command


def main(argv: list[str] | None = None) -> int:
    """Write (default) or check the schema file; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.check:
        args.write = True
    return command.run(args)


if __name__ == "__main__":
    sys.exit(main())
