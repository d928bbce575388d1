"""How `smsh run` / `smsh demo` decide between the operator console and the headless view."""

from __future__ import annotations

import argparse

import pytest

from scenarios.commands import demo as demo_command
from scenarios.commands import run as run_command
from scenarios.commands.run import View, choose_view


@pytest.mark.parametrize(
    ("tui", "default_on", "as_json", "is_terminal", "expected"),
    [
        # smsh demo: the console on a terminal unless --no-tui or --json
        (None, True, False, True, ("tui", None)),
        (None, True, False, False, ("progress", None)),
        (None, True, True, True, ("progress", None)),
        (False, True, False, True, ("progress", None)),
        (
            True,
            True,
            False,
            False,
            ("progress", "--tui needs a terminal on stdout; running headless"),
        ),
        # smsh run: only with --tui
        (None, False, False, True, ("progress", None)),
        (True, False, False, True, ("tui", None)),
        (True, False, True, True, ("progress", "--tui is ignored with --json")),
        (
            True,
            False,
            False,
            False,
            ("progress", "--tui needs a terminal on stdout; running headless"),
        ),
    ],
)
def test_the_console_needs_a_terminal_and_no_json(
    tui: bool | None,
    default_on: bool,
    as_json: bool,
    is_terminal: bool,
    expected: tuple[View, str | None],
) -> None:
    got = choose_view(
        tui, default_on=default_on, as_json=as_json, is_terminal=is_terminal, headless="progress"
    )
    assert got == expected


def test_the_headless_view_is_the_callers() -> None:
    args = {"default_on": False, "as_json": False, "is_terminal": True}
    assert choose_view(None, headless="quiet", **args) == ("quiet", None)
    assert choose_view(False, headless="progress", **args) == ("progress", None)


@pytest.mark.parametrize(
    ("module", "argv", "expected"),
    [
        (demo_command, [], None),
        (demo_command, ["--no-tui"], False),
        (demo_command, ["--tui"], True),
        (run_command, ["x.yaml"], None),
        (run_command, ["x.yaml", "--tui"], True),
    ],
)
def test_both_commands_take_tui_flags(
    module: object, argv: list[str], expected: bool | None
) -> None:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    assert parser.parse_args(argv).tui is expected


class _Stdout:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
@pytest.mark.parametrize(
    ("module", "argv", "on_terminal", "headless"),
    [
        (demo_command, [], "tui", "progress"),
        (demo_command, ["--json"], "progress", "progress"),
        (run_command, ["x.yaml"], "quiet", "quiet"),
        (run_command, ["x.yaml", "--tui"], "tui", "quiet"),
    ],
)
def test_the_commands_look_at_stdout(
    monkeypatch: pytest.MonkeyPatch,
    tty: bool,
    module: object,
    argv: list[str],
    on_terminal: View,
    headless: View,
) -> None:
    calls: list[dict[str, object]] = []

    def execute(*args: object, **kwargs: object) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(run_command, "execute", execute)
    monkeypatch.setattr(demo_command, "execute", execute)
    monkeypatch.setattr("sys.stdout", _Stdout(tty))
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]

    assert module.run(parser.parse_args(argv)) == 0  # type: ignore[attr-defined]

    expected = on_terminal if tty else headless
    (call,) = calls
    assert call["view"] == expected
    assert (call["progress"] is not None) == (expected == "progress")
