"""What every state-driven screen shares: the view context and the refresh protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from rich.style import Style
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from sms.clock import Clock
from tui.describe import Tone
from tui.state import OpsState

__all__ = ["TONE_STYLES", "StateScreen", "ViewContext"]

#: Colours of the tones (`tui.describe.Tone`) in Rich text built by the screens.
TONE_STYLES: dict[Tone, Style] = {
    "ok": Style(color="green"),
    "bad": Style(color="red", bold=True),
    "warn": Style(color="yellow"),
    "info": Style(),
}


@dataclass(frozen=True, slots=True)
class ViewContext:
    """What screens read: the model, the viewer's clock and how to show times."""

    state: OpsState
    """The state model (the bus worker writes it; screens only read it)."""
    clock: Clock
    """The viewer's clock (for rate sparklines)."""
    tz: tzinfo
    """Zone to show times in."""
    table_interval: float = 0.5
    """Least seconds between rebuilds of a large table (real time)."""


class StateScreen(Screen[None]):
    """A screen that shows part of `OpsState` and re-reads it on `refresh_view`."""

    def __init__(self, context: ViewContext) -> None:
        """Create the screen.

        Args:
            context: The model and how to show it.
        """
        super().__init__()
        self.context = context
        self.ready = False
        """True once composed (each screen sets it first thing in its `on_mount`)."""

    @property
    def state(self) -> OpsState:
        """The state model."""
        return self.context.state

    def refresh_view(self) -> None:
        """Re-read the model and update the widgets (called by the app, coalesced).

        Does nothing until the screen is composed, or once it is detached.
        """
        if self.ready and self.is_running and self.is_attached:
            self.redraw()

    def redraw(self) -> None:
        """Update the widgets from the model; screens override this."""

    def put(self, selector: str, content: Text) -> Static:
        """Show `content` in a Static whose size the stylesheet fixes, if it changed.

        Skipping unchanged content and layout keeps a repaint cheap under a flood of events.

        Args:
            selector: The Static's selector.
            content: What to show.

        Returns:
            The Static.
        """
        widget = self.query_one(selector, Static)
        if widget.content != content:
            widget.update(content, layout=False)
        return widget

    def on_screen_resume(self) -> None:
        """Show the current state at once when the screen comes back."""
        self.refresh_view()
