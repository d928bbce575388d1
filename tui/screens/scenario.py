"""Scenario: the run's phase, its progress, and each expectation turning green or red live."""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Header, ProgressBar, Static

from tui.screens.base import StateScreen
from tui.state import ExpectationView, ScenarioView
from tui.widgets import LiveTable, Row

__all__ = ["PHASES", "ScenarioScreen"]

#: The phases of a run in order (`aborted` replaces `finished` when a run is stopped).
PHASES: Final[tuple[str, ...]] = (
    "loading",
    "starting",
    "running",
    "draining",
    "evaluating",
    "finished",
)
_MARKS: Final[dict[str, tuple[str, str]]] = {
    "pass": ("✔", "bold green"),
    "fail": ("✖", "bold red"),
    "pending": ("…", "dim"),
}


def _elapsed(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class ScenarioScreen(StateScreen):
    """Where the scenario run stands."""

    def compose(self) -> ComposeResult:
        """Heading, phase stepper, progress, tally, expectations."""
        yield Header()
        yield Static(id="scenario-head")
        yield Static(id="phases")
        yield ProgressBar(total=1.0, show_eta=False, id="progress")
        yield Static(id="tally")
        yield LiveTable(
            [("mark", " "), ("name", "Expectation"), ("status", "Status"), ("detail", "Detail")],
            id="expectations",
        )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Title the table and show what is there."""
        self.ready = True
        self.query_one("#expectations", LiveTable).border_title = "Expectations"
        self.refresh_view()

    def redraw(self) -> None:
        """Re-read the run."""
        view = self.state.scenario
        head = self.query_one("#scenario-head", Static)
        bar = self.query_one("#progress", ProgressBar)
        table = self.query_one("#expectations", LiveTable)
        if view is None:
            head.update(Text("No scenario running: waiting for scenario progress.", style="dim"))
            self.query_one("#phases", Static).update("")
            self.query_one("#tally", Static).update("")
            bar.display = False
            table.sync([])
            return
        head.update(
            Text.assemble(
                ("Scenario ", "dim"),
                (view.scenario, "bold"),
                ("  run ", "dim"),
                view.run_id,
                ("  elapsed ", "dim"),
                (_elapsed(view.elapsed_s), "bold"),
                ("  (simulated)", "dim"),
            )
        )
        self.query_one("#phases", Static).update(_stepper(view))
        bar.display = view.progress is not None
        if view.progress is not None:
            bar.update(total=1.0, progress=view.progress)
        tally = view.tally()
        self.query_one("#tally", Static).update(
            Text.assemble(
                ("✔ ", "bold green"),
                f"{tally['pass']} passed   ",
                ("✖ ", "bold red"),
                (f"{tally['fail']} failed", "bold red" if tally["fail"] else ""),
                "   ",
                ("… ", "dim"),
                f"{tally['pending']} pending",
            )
        )
        table.sync([_row(exp, view) for exp in view.expectations.values()])

    def expectation_status(self, name: str) -> str | None:
        """The status an expectation shows (for tests).

        Args:
            name: The expectation's name.

        Returns:
            ``pass``, ``fail``, ``pending`` or None when not shown.
        """
        return self.query_one("#expectations", LiveTable).cell_text(name, 2) or None


def _stepper(view: ScenarioView) -> Text:
    phases = list(PHASES)
    if view.phase == "aborted":
        phases[-1] = "aborted"
    current = phases.index(view.phase) if view.phase in phases else -1
    text = Text()
    for index, phase in enumerate(phases):
        if index:
            text.append(" › ", style="dim")
        if index < current:
            text.append(f"✔ {phase}", style="green")
        elif index == current:
            style = "bold reverse red" if phase == "aborted" else "bold reverse"
            text.append(f" {phase} ", style=style)
        else:
            text.append(phase, style="dim")
    return text


def _row(exp: ExpectationView, view: ScenarioView) -> Row:
    mark, style = _MARKS.get(exp.status, ("?", ""))
    fresh = exp.changed_at == view.at and exp.status != "pending"
    return (
        exp.name,
        (
            Text(mark, style=style),
            Text(exp.name, style=f"{style} reverse" if fresh else ""),
            Text(exp.status, style=style),
            Text(exp.detail or ""),
        ),
    )
