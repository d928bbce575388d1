"""Every scenario in scenarios/library/ runs end to end and every expectation holds.

Each file goes through `run_scenario` (our simulator + our gateway over loopback TCP) at its own
speed, and must finish within `WALL_LIMIT_S` real seconds. A file that cannot pass yet is listed
in `BLOCKED` with what blocks it; the mark is strict, so a file that starts passing turns this
suite red until its entry is removed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Final

import pytest

from scenarios.loader import load_scenario
from scenarios.runner import run_scenario

#: Files that fail today, and why. Remove an entry when its file passes (strict xfail).
BLOCKED: Final[dict[str, str]] = {}
#: Longest a library file may take, in real seconds.
WALL_LIMIT_S: Final[float] = 20.0
#: Hard stop for one run (well above the limit, so a slow run fails on time, not on a timeout).
_TIMEOUT_S: Final[float] = 90.0

LIBRARY: Final[Path] = Path(__file__).resolve().parents[2] / "scenarios" / "library"
FILES: Final[list[Path]] = sorted(LIBRARY.glob("*.yaml"))


def _param(path: Path) -> object:
    reason = BLOCKED.get(path.stem)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason is not None else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_blocked_names_only_library_files() -> None:
    assert set(BLOCKED) <= {f.stem for f in FILES}
    assert len(FILES) >= 18


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("path", [_param(f) for f in FILES])
async def test_library_file_passes(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    started = time.monotonic()
    async with asyncio.timeout(_TIMEOUT_S):
        outcome = await run_scenario(scenario, root=tmp_path)
    wall = time.monotonic() - started

    failed = [f"{v.name}: {v.margin}" for v in outcome.failed]
    assert outcome.passed, f"{path.name}: " + "; ".join(failed)
    assert wall < WALL_LIMIT_S, f"{path.name} took {wall:.1f} s (limit {WALL_LIMIT_S:.0f} s)"
