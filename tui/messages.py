"""Textual messages of the operator UI: small dataclasses, posted by workers and screens.

`StateChanged` is the one high-rate message. The bus worker posts it at most `update_hz` times a
second, and it coalesces in the app's queue (`can_replace`), so a burst of bus events becomes at
most one pending repaint however long the UI was busy.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.state import BindKey

__all__ = ["BindSelected", "ControlAnswered", "StateChanged"]


@dataclass
class StateChanged(Message, bubble=False):
    """The state model changed: views should re-read it."""

    version: int
    """`OpsState.version` when posted."""
    events: int
    """Events folded in since the previous `StateChanged`."""

    def can_replace(self, message: Message) -> bool:
        """A newer `StateChanged` supersedes this one (the model holds the news, not the message).

        Args:
            message: A message queued after this one.

        Returns:
            True when `message` is another `StateChanged`.
        """
        return isinstance(message, StateChanged)


@dataclass
class BindSelected(Message):
    """The operator moved the bind cursor on the overview."""

    key: BindKey | None
    """(component, instance, bind_id) of the selected session, or None."""


@dataclass
class ControlAnswered(Message, bubble=False):
    """A control the operator sent was acknowledged, refused, or went unanswered."""

    action: str
    """The control action."""
    target: str
    """``component/instance`` that answered, or the one addressed when none did."""
    ok: bool | None
    """True: carried out; False: refused or failed; None: no answer in time."""
    detail: str | None = None
    """The ack's detail (why it was refused), or a note."""
    correlation_id: str | None = None
    """The request's correlation id."""
