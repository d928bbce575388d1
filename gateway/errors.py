"""Errors raised by the gateway package.

Invariants:
    * Every exception the gateway raises on purpose derives from `GatewayError`, so a shell can
      catch the whole family at its edge (ARCHITECTURE.md rule 8) and turn it into an event.
    * Errors carry the facts needed to act on them (message id, states, sequence number) as
      attributes, not only inside the message text.
    * Every error pickles and unpickles to the same type with the same attributes and message
      (`GatewayError.__reduce__`): the store's writer process sends them back to the parent.
"""

from __future__ import annotations

from typing import Any


def _rebuild(
    cls: type[GatewayError],
    args: tuple[Any, ...],
    state: dict[str, Any],
    cause: BaseException | None = None,
) -> Any:
    """Unpickle a `GatewayError`: the instance without calling ``__init__`` (whose parameters
    are not its ``args``), then its ``args``, attributes and explicit cause."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    error.__cause__ = cause
    return error


class GatewayError(Exception):
    """Root of every error raised by the gateway package."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduction calls ``cls(*args)``: wrong for the subclasses whose
        # ``__init__`` takes the facts (message id, states...) and formats the message.
        return (_rebuild, (type(self), self.args, dict(self.__dict__), self.__cause__))


class GatewayConfigError(GatewayError, ValueError):
    """A policy or store configuration value is invalid.

    Args:
        message: What is wrong.
        field: The dotted name of the offending configuration field, when known.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class StoreError(GatewayError):
    """The message store failed (I/O error, disk full, closed store, corrupt schema)."""


class StoreClosedError(StoreError):
    """An operation was submitted to a store that is closed or whose writer has stopped."""


class UnknownMessageError(StoreError, KeyError):
    """No message with this id exists in the store.

    Args:
        message_id: The id that was looked up.
    """

    def __init__(self, message_id: int) -> None:
        super().__init__(f"no message with id {message_id}")
        self.message_id = message_id

    def __str__(self) -> str:
        # KeyError quotes its argument; keep the plain sentence.
        return f"no message with id {self.message_id}"


class IllegalTransitionError(StoreError):
    """A message state change that the store's transition table does not allow.

    Args:
        message_id: The message concerned.
        current: Its state when the change was attempted.
        target: The state that was requested.
        action: The store operation that asked for it (``"claim"``, ``"cancel"``...).
    """

    def __init__(self, message_id: int, current: str, target: str, action: str) -> None:
        super().__init__(
            f"message {message_id}: {action} cannot move it from {current!r} to {target!r}"
        )
        self.message_id = message_id
        self.current = current
        self.target = target
        self.action = action


class QuietHoursError(GatewayError, ValueError):
    """A contact window is malformed, or allows no time at all (`gateway.policy.quiet`)."""


class OwnerCheckError(GatewayError):
    """The owner-check (他人接続判定) service failed or answered something malformed
    (`gateway.ownercheck`)."""


class PolicyError(GatewayError):
    """A flow-control policy was used against its contract."""


class WindowError(PolicyError):
    """A window operation broke the window's contract (for example a sequence number reused
    while still outstanding).

    Args:
        message: What happened.
        sequence_number: The SMPP sequence number concerned.
    """

    def __init__(self, message: str, sequence_number: int) -> None:
        super().__init__(message)
        self.sequence_number = sequence_number
