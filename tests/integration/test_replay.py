"""`smsh replay RUN`: a recorded run is run again and its per-message outcomes compared.

The original is smoke.yaml run once per module over real loopback TCP; each test copies its run
directory, so a tampered copy never leaks into another test.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from scenarios import cli
from scenarios.commands import replay as replay_command
from scenarios.loader import load_scenario
from scenarios.runner import run_scenario

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "library" / "smoke.yaml"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of one smoke.yaml run."""
    root = tmp_path_factory.mktemp("recorded")

    async def main() -> Path:
        async with asyncio.timeout(30):
            outcome = await run_scenario(load_scenario(SMOKE), root=root)
        assert outcome.passed, outcome.failed
        return outcome.run.path

    return asyncio.run(main())


@pytest.fixture
def run_copy(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of the recorded run directory."""
    return Path(shutil.copytree(recorded, tmp_path / recorded.name))


def replay(path: Path, root: Path, *, as_json: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = replay_command.execute(path, as_json=as_json, runs=root, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_replay_of_smoke_shows_no_difference(run_copy: Path, tmp_path: Path) -> None:
    code, out, err = replay(run_copy, tmp_path / "replays", as_json=True)

    assert code == 0, (out, err)
    document = json.loads(out)
    assert document["format"] == replay_command.REPLAY_FORMAT
    assert document["identical"] is True
    assert document["differences"] == []
    assert document["messages_compared"] == 20
    assert document["seed"] == 1
    assert document["speed"] == 10
    builds = document["build_versions"]
    assert builds["original"] == builds["replay"] is not None
    replay_dir = Path(document["replay"])
    assert replay_dir.parent == tmp_path / "replays"
    assert json.loads((replay_dir / "run.json").read_text())["replay_of"] == run_copy.name
    assert str(replay_dir) in err


def _tamper(run_dir: Path, sql: str, *params: object) -> str:
    """Run `sql` on the copy's ledger (first `?` gets the first key); returns that key."""
    with sqlite3.connect(run_dir / "ledger.sqlite") as conn:
        key: str = conn.execute("SELECT min(key) FROM outcomes").fetchone()[0]
        changed = conn.execute(sql, (*params, key)).rowcount
    assert changed == 1
    return key


def test_a_changed_final_state_is_reported(run_copy: Path, tmp_path: Path) -> None:
    key = _tamper(run_copy, "UPDATE outcomes SET state = ? WHERE key = ?", "undeliverable")

    code, out, _ = replay(run_copy, tmp_path / "replays")

    assert code == 1
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["key", "field", "original", "replay"]
    assert [line.split() for line in lines[1:-1]] == [[key, "state", "undeliverable", "delivered"]]
    assert lines[-1] == "1 difference in 1 message"


def test_a_difference_between_builds_is_pointed_out(run_copy: Path, tmp_path: Path) -> None:
    run_json = run_copy / "run.json"
    meta = json.loads(run_json.read_text(encoding="utf-8"))
    run_json.write_text(json.dumps({**meta, "build_version": "v0-old"}), encoding="utf-8")
    _tamper(run_copy, "UPDATE outcomes SET state = ? WHERE key = ?", "expired")

    code, _, err = replay(run_copy, tmp_path / "replays")

    assert code == 1
    assert "note: the original ran on v0-old, the replay on " in err


def test_changed_receipts_and_audit_facts_are_reported(run_copy: Path, tmp_path: Path) -> None:
    key = _tamper(
        run_copy,
        "UPDATE outcomes SET part_stats = ?, events = ? WHERE key = ?",
        "UNDELIV",
        "misdelivery",
    )

    code, out, _ = replay(run_copy, tmp_path / "replays", as_json=True)

    assert code == 1
    document = json.loads(out)
    assert document["identical"] is False
    assert document["differences"] == [
        {"key": key, "field": "part[1].stat", "original": "UNDELIV", "replay": "DELIVRD"},
        {"key": key, "field": "events", "original": "misdelivery", "replay": "-"},
    ]


def test_a_message_missing_from_the_original_is_reported(run_copy: Path, tmp_path: Path) -> None:
    key = _tamper(run_copy, "DELETE FROM outcomes WHERE key = ?")

    code, out, _ = replay(run_copy, tmp_path / "replays")

    assert code == 1
    assert [key, "presence", "(none)", "present"] in [line.split() for line in out.splitlines()]


@pytest.mark.parametrize("missing", ["run.json", "scenario.yaml", "ledger.sqlite"])
def test_a_run_directory_without_a_file_is_refused(
    run_copy: Path, tmp_path: Path, missing: str
) -> None:
    (run_copy / missing).unlink()

    code, out, err = replay(run_copy, tmp_path / "replays")

    assert code == 2
    assert out == ""
    assert f"{run_copy}: not a run directory: missing {missing}" in err
    assert not (tmp_path / "replays").exists()


def test_an_unfinished_run_is_refused(run_copy: Path, tmp_path: Path) -> None:
    with sqlite3.connect(run_copy / "ledger.sqlite") as conn:
        conn.execute("UPDATE meta SET value = 'false' WHERE name = 'closed'")

    code, _, err = replay(run_copy, tmp_path / "replays")

    assert code == 2
    assert "the ledger was never closed (the run did not finish)" in err


def test_a_scenario_copy_that_disagrees_with_run_json_is_refused(
    run_copy: Path, tmp_path: Path
) -> None:
    text = (run_copy / "scenario.yaml").read_text(encoding="utf-8")
    (run_copy / "scenario.yaml").write_text(text.replace("seed: 1 ", "seed: 2 "), encoding="utf-8")

    code, _, err = replay(run_copy, tmp_path / "replays")

    assert code == 2
    assert "run.json says seed 1 but the scenario copy says 2" in err


def test_not_a_directory_is_refused(tmp_path: Path) -> None:
    code, _, err = replay(tmp_path / "nowhere", tmp_path / "replays")

    assert code == 2
    assert "not a directory" in err


def test_the_cli_knows_the_command(run_copy: Path, tmp_path: Path) -> None:
    parser = cli.build_parser(["replay", str(run_copy)])
    args = parser.parse_args(["replay", str(run_copy), "--runs", str(tmp_path), "--json"])
    assert (args.command, args.run_dir, args.runs, args.json) == (
        "replay",
        run_copy,
        tmp_path,
        True,
    )
