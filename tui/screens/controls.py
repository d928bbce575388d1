"""The small forms behind the control keys: set a rate, inject or clear a fault, confirm a drain.

Each is a `ModalScreen` that returns what the operator chose (or None / False when cancelled);
the app turns the answer into a `Control` and publishes it. Escape always cancels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Final, TypeVar

from pydantic import JsonValue
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.format import clock_text
from tui.state import FaultView

__all__ = [
    "FAULT_KINDS",
    "ClearFaultScreen",
    "ConfirmScreen",
    "FaultRequest",
    "FaultScreen",
    "RateScreen",
]

#: Fault kinds of the simulated carrier, with example parameters. The TUI cannot import the
#: simulator, so this list mirrors its scenario schema; the simulator validates and may refuse.
FAULT_KINDS: Final[dict[str, str]] = {
    "tps_throttle": '{"max_tps": 10}',
    "queue_full": '{"rate": 1.0}',
    "system_error_rate": '{"rate": 0.05}',
    "response_delay": '{"delay": {"kind": "fixed", "seconds": 5}}',
    "no_response": '{"rate": 1.0, "process": false}',
    "generic_nack": '{"rate": 1.0}',
    "disconnect_after_pdus": '{"pdus": 100}',
    "disconnect_at": '{"at_s": 60}',
    "server_unbind": '{"after_pdus": 10}',
    "stall": "{}",
    "slow_receipts": '{"extra": {"kind": "fixed", "seconds": 600}}',
    "carrier_outage": '{"carrier": "docomo", "mode": "delay"}',
}


ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class FaultRequest:
    """What the fault form asks for."""

    fault_kind: str
    """The fault kind."""
    target: str | None = None
    """Bind id, account or route it applies to; None for the whole instance."""
    params: dict[str, JsonValue] = field(default_factory=dict)
    """The fault's parameters."""
    duration_s: float | None = None
    """Seconds until it clears by itself; None to keep it until cleared."""

    def args(self) -> dict[str, JsonValue]:
        """The `Control.args` of an ``inject_fault``."""
        args: dict[str, JsonValue] = {"fault_kind": self.fault_kind, "params": self.params}
        if self.target is not None:
            args["target"] = self.target
        if self.duration_s is not None:
            args["duration_s"] = self.duration_s
        return args


class _Form(ModalScreen[ResultT]):
    """Shared behaviour: Escape cancels (`action_cancel`), errors show under the inputs."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012 - Textual's style

    def action_cancel(self) -> None:
        """Close without an answer."""
        raise NotImplementedError

    def _error(self, message: str) -> None:
        self.query_one(".form-error", Static).update(Text(message, style="bold red"))


class RateScreen(_Form[float | None]):
    """Ask for a submit rate in messages per second."""

    def __init__(self, target: str, current: float | None = None) -> None:
        """Create the form.

        Args:
            target: What the rate applies to, for the prompt.
            current: The current rate, if known (pre-filled).
        """
        super().__init__()
        self.target = target
        self.current = current

    def compose(self) -> ComposeResult:
        """Prompt, input, buttons."""
        with Vertical(classes="form"):
            yield Label(Text.assemble("Submit rate for ", (self.target, "bold")))
            with Horizontal(classes="form-field"):
                yield Label("Rate")
                yield Input(
                    value="" if self.current is None else f"{self.current:g}",
                    placeholder="messages per second",
                    type="number",
                    id="rate",
                    compact=True,
                )
            yield Static(classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Set", variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    @on(Input.Submitted, "#rate")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        raw = self.query_one("#rate", Input).value.strip()
        try:
            rate = float(raw)
        except ValueError:
            self._error("Enter a number of messages per second.")
            return
        if not math.isfinite(rate) or rate < 0:
            self._error("The rate must be zero or more.")
            return
        self.dismiss(rate)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class FaultScreen(_Form[FaultRequest | None]):
    """Pick a fault kind, its target, parameters and duration."""

    def __init__(
        self, target: str | None = None, kinds: Sequence[str] = tuple(FAULT_KINDS)
    ) -> None:
        """Create the form.

        Args:
            target: Pre-filled target (the selected bind id), if any.
            kinds: The fault kinds offered.
        """
        super().__init__()
        self.target = target
        self.kinds = list(kinds)
        self._params_edited = False

    def compose(self) -> ComposeResult:
        """Kind list, target, params, duration, buttons."""
        with Vertical(classes="form -tall"):
            yield Label(Text("Inject a fault into the simulated carrier", style="bold"))
            yield OptionList(*[Option(kind, id=kind) for kind in self.kinds], id="kind")
            with Horizontal(classes="form-field"):
                yield Label("Target")
                yield Input(
                    value=self.target or "",
                    placeholder="bind id or account; empty: all",
                    id="target",
                    compact=True,
                )
            with Horizontal(classes="form-field"):
                yield Label("Params")
                yield Input(placeholder="a JSON object", id="params", compact=True)
            with Horizontal(classes="form-field"):
                yield Label("Duration")
                yield Input(
                    placeholder="seconds; empty: until cleared", id="duration", compact=True
                )
            yield Static(classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Inject", variant="error", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Start on the first kind."""
        kinds = self.query_one("#kind", OptionList)
        kinds.highlighted = 0
        kinds.focus()

    @on(OptionList.OptionHighlighted, "#kind")
    def _kind_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if not self._params_edited and event.option.id is not None:
            params = self.query_one("#params", Input)
            params.value = FAULT_KINDS.get(event.option.id, "{}")
            self._params_edited = False

    @on(OptionList.OptionSelected, "#kind")
    def _kind_selected(self) -> None:
        self.query_one("#target", Input).focus()

    @on(Input.Changed, "#params")
    def _params_changed(self, event: Input.Changed) -> None:
        kinds = self.query_one("#kind", OptionList)
        option = kinds.highlighted_option
        example = FAULT_KINDS.get(option.id or "", "{}") if option is not None else "{}"
        self._params_edited = event.value != example

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        option = self.query_one("#kind", OptionList).highlighted_option
        if option is None or option.id is None:
            self._error("Pick a fault kind.")
            return
        raw_params = self.query_one("#params", Input).value.strip() or "{}"
        try:
            params = json.loads(raw_params)
        except ValueError as exc:
            self._error(f"params: not JSON ({exc.args[0] if exc.args else exc})")
            return
        if not isinstance(params, dict):
            self._error("params: must be a JSON object")
            return
        raw_duration = self.query_one("#duration", Input).value.strip()
        duration: float | None = None
        if raw_duration:
            try:
                duration = float(raw_duration)
            except ValueError:
                self._error("duration: enter seconds, or leave it empty")
                return
            if not math.isfinite(duration) or duration <= 0:
                self._error("duration: must be more than zero")
                return
        target = self.query_one("#target", Input).value.strip() or None
        self.dismiss(FaultRequest(option.id, target, params, duration))

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ClearFaultScreen(_Form[str | None]):
    """Pick one of the active faults to clear."""

    def __init__(self, faults: Sequence[FaultView], tz: tzinfo = UTC) -> None:
        """Create the form.

        Args:
            faults: The active faults.
            tz: Zone for the times shown.
        """
        super().__init__()
        self.faults = list(faults)
        self.tz = tz

    def compose(self) -> ComposeResult:
        """Fault list and a cancel button."""
        tz = self.tz
        with Vertical(classes="form -tall"):
            yield Label(Text("Clear which fault?", style="bold"))
            yield OptionList(
                *[
                    Option(
                        Text.assemble(
                            (fault.fault_kind, "bold magenta"),
                            f" → {fault.target}" if fault.target else " (all)",
                            (f"  {fault.source[1]} since {clock_text(fault.at, tz)}", "dim"),
                        ),
                        id=fault.fault_id,
                    )
                    for fault in self.faults
                ],
                id="faults",
            )
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Focus the list."""
        faults = self.query_one("#faults", OptionList)
        faults.highlighted = 0 if self.faults else None
        faults.focus()

    @on(OptionList.OptionSelected, "#faults")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(_Form[bool]):
    """A yes/no question (``y`` / ``n``)."""

    BINDINGS = [  # noqa: RUF012 - Textual's style
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        """Create the dialog.

        Args:
            question: The question.
            detail: What will happen, in a sentence.
        """
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        """Question and buttons."""
        with Vertical(classes="form"):
            yield Label(Text(self.question, style="bold"))
            if self.detail:
                yield Label(Text(self.detail, style="dim"))
            with Horizontal(classes="form-buttons"):
                yield Button("Yes", variant="error", id="yes", compact=True)
                yield Button("No", variant="primary", id="no", compact=True)

    def on_mount(self) -> None:
        """Default to No."""
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        """Answer the question."""
        self.dismiss(answer)

    def action_cancel(self) -> None:
        """Escape means no."""
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
