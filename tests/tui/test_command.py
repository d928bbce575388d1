"""`smsh tui`: arguments and usage errors (the console itself is covered by the pilot tests)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from scenarios.commands import tui as command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smsh tui")
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    args = parse()
    assert (args.mqtt, args.tz, args.title, args.instance) == (
        "mqtt://127.0.0.1:1883",
        "UTC",
        None,
        None,
    )
    assert command._zone("UTC") is UTC
    assert isinstance(command._zone("Asia/Tokyo"), ZoneInfo)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--mqtt", "http://broker:80"], "bad bus URL"),
        (["--tz", "Mars/Olympus_Mons"], "unknown time zone 'Mars/Olympus_Mons'"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.run(parse(*argv)) == 2
    assert error in capsys.readouterr().err


def test_the_state_model_does_not_need_textual() -> None:
    code = "import sys, tui.state, tui; assert 'textual' not in sys.modules, 'textual loaded'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
