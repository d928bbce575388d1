"""Errors raised by the pure carrier model (`simulator.network`).

Invariants:
    * Everything this package raises on purpose derives from `NetworkModelError`, so the server
      shell can catch the whole model with one `except` and still tell the cases apart.
    * Configuration problems found after pydantic validation (a carrier that a population refers
      to but that is not configured, an unknown account route, ...) are `NetworkConfigError` and
      name the offending field path.
    * Nothing here imports anything else of the project, so any module may import it.
"""

from __future__ import annotations


class NetworkModelError(Exception):
    """Root of all errors raised by the carrier model."""


class NetworkConfigError(NetworkModelError, ValueError):
    """A network configuration that validates field by field but is inconsistent as a whole.

    Also a `ValueError`, so it surfaces unchanged from pydantic model validators.

    Attributes:
        field: Dotted path of the offending field (e.g. `population.carrier_mix.docomo`).
        detail: What is wrong with it.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

    def __reduce__(self) -> tuple[type[NetworkConfigError], tuple[str, str]]:
        return (type(self), (self.field, self.detail))
