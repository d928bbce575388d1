"""Errors of the simulated SMSC's server layer (configuration, accounts, store, shell).

Invariants of this module:

* ``SimulatorError`` is the root of every error the server layer raises on purpose. The protocol
  core keeps its own root (``simulator.smpp.errors.SmppProtocolError``); the server never lets
  one of those escape to the event loop: it turns them into the answer SMPP-ERRORS.md obliges.
* A user-facing error names where it comes from: ``ConfigError`` carries the file (when there is
  one) and the dotted field path (``accounts[0].password``), and its message starts with both.
* Passwords never appear in an error message or a log line (SMPP-ERRORS (a'): Jasmin's smell).
"""

from __future__ import annotations

from pathlib import Path


class SimulatorError(Exception):
    """Root of the server layer's errors."""


class ConfigError(SimulatorError):
    """A configuration document is invalid.

    Attributes:
        path: The file the document came from, or None for an in-memory document.
        field: Dotted path of the offending field (``accounts[1].allow_from[0]``), or "" when the
            document as a whole is wrong (not YAML, not a mapping).
        detail: What is wrong, without the location.
    """

    def __init__(self, detail: str, *, path: Path | str | None = None, field: str = "") -> None:
        """Build the error.

        Args:
            detail: What is wrong.
            path: The file, when the document came from one.
            field: Dotted field path, when one field is to blame.
        """
        self.path = Path(path) if path is not None else None
        self.field = field
        self.detail = detail
        where = [str(self.path)] if self.path is not None else []
        if field:
            where.append(field)
        super().__init__(": ".join([*where, detail]))


class ServerStateError(SimulatorError):
    """The server was used in a state that does not allow it (not started, already stopped)."""


class UnknownAccountError(SimulatorError):
    """An API call named an account the server does not know (and open mode is off)."""
